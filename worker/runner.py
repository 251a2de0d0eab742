"""Starting and closing session runtimes, and pumping their events to Redis.

Every held session has one pump task: it publishes the runtime's events in
order, tracks ``connected``, schedules the first snapshot after linking,
and releases the session's slot when the runtime has stopped for good.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass

from playwright.async_api import Playwright

from shared.events import SessionEvent, SessionStatusChanged
from shared.types import ProxySpec, SessionStatus
from worker.engine import EngineConfig, EngineError, SessionRuntime, SnapshotError
from worker.errors import WorkerError
from worker.outbox import Outbox
from worker.sessions import LiveSession, SessionRegistry
from worker.snapshots import SnapshotService, has_local_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartOptions:
    """How to start one session."""

    proxy: ProxySpec | None = None
    qr_max: int = 6
    restore: bool = False  # fetch the control plane's snapshot when there is no local profile


class SessionRunner:
    """Owns the runtimes of the held sessions (creation, pump, close)."""

    def __init__(
        self,
        *,
        registry: SessionRegistry,
        playwright: Playwright,
        engine: EngineConfig,
        outbox: Outbox,
        snapshots: SnapshotService,
        start_concurrency: int,
    ) -> None:
        self._registry = registry
        self._playwright = playwright
        self._engine = engine
        self._outbox = outbox
        self._snapshots = snapshots
        self._start_slots = asyncio.Semaphore(start_concurrency)

    async def start(self, live: LiveSession, options: StartOptions) -> str:
        """Prepare the profile, launch the runtime and its pump; returns the profile's source
        (``local``, ``snapshot`` or ``none``). On failure the slot is released."""
        try:
            source = await self._prepare_profile(live, options.restore)
        except BaseException:
            self._end(live)
            raise
        if source != "none":
            self._snapshots.defer_first_upload(live)
        runtime = SessionRuntime(
            session_id=live.session_id,
            profile_dir=live.profile_dir,
            playwright=self._playwright,
            config=self._engine,
            proxy=options.proxy,
            generation=live.generation,
            qr_max=options.qr_max,
        )
        live.runtime = runtime
        live.pump = pump = asyncio.create_task(self._pump(live, runtime), name=f"pump-{live.session_id}")
        try:
            async with self._start_slots:  # Chromium starts saturate the cores: a few at a time
                await runtime.start()
        except EngineError:
            # The runtime reported status error itself and ended its stream: let the pump
            # publish that and free the slot before the refusal is answered.
            await asyncio.wait({pump}, timeout=10)
            raise
        except BaseException:
            await asyncio.shield(runtime.stop())  # cancelled or unexpected: end the stream, free the slot
            raise
        return source

    async def _prepare_profile(self, live: LiveSession, restore: bool) -> str:
        if has_local_profile(live.profile_dir):
            return "local"
        if not restore:
            return "none"
        try:
            restored = await self._snapshots.download_into(live.session_id, live.profile_dir)
        except SnapshotError as exc:
            log.warning("session %s: stored snapshot unusable (%s); starting afresh", live.session_id, exc)
            return "none"
        if not restored:
            log.info("session %s: no snapshot stored; starting afresh (a QR scan is needed)", live.session_id)
        return "snapshot" if restored else "none"

    async def close(self, live: LiveSession, *, silence: bool = False, wipe: bool = False) -> None:
        """Stop the runtime (keeping the profile unless ``wipe``) and wait for its pump to end."""
        live.silenced = live.silenced or silence
        if live.runtime is not None:
            async with live.snapshot_lock:  # never close a browser a snapshot has frozen
                await live.runtime.stop()
        if live.pump is not None:
            await live.pump
        self._end(live)
        if wipe:
            await asyncio.to_thread(shutil.rmtree, live.profile_dir, True)

    async def logout(self, live: LiveSession) -> None:
        """Unlink from the phone and wipe the profile (the runtime does both)."""
        if live.runtime is not None:
            async with live.snapshot_lock:
                await live.runtime.logout()
        if live.pump is not None:
            await live.pump
        self._end(live)

    def _end(self, live: LiveSession) -> None:
        live.connected.clear()
        live.ended.set()
        self._registry.release(live)

    async def _pump(self, live: LiveSession, runtime: SessionRuntime) -> None:
        try:
            async for event in runtime.events():
                await self._forward(live, event)
        finally:
            self._end(live)
            log.info("session %s: runtime ended (%s, %s)", live.session_id, runtime.status, runtime.reason)

    async def _forward(self, live: LiveSession, event: SessionEvent) -> None:
        if event.generation != live.generation:
            # The runtime stamps the generation it was created with; after a takeover the
            # worker's newer one is the truth (the engine has no way to change its stamp).
            event = event.model_copy(update={"generation": live.generation})
        if isinstance(event, SessionStatusChanged):
            if event.status is SessionStatus.CONNECTED:
                live.linked = True
                live.connected.set()
            else:
                live.connected.clear()
            if event.status is SessionStatus.DISCONNECTED and event.reason == "stopped" and live.stop_reason:
                event = event.model_copy(update={"reason": live.stop_reason})
        if live.silenced:
            return
        await self._outbox.publish(event)
        connected = isinstance(event, SessionStatusChanged) and event.status is SessionStatus.CONNECTED
        if connected and live.upload_on_connect and not live.uploaded:
            self._snapshots.schedule_upload(live)


def describe(exc: BaseException) -> str:
    """A one-line reason for an event or a recovery result."""
    if isinstance(exc, EngineError):
        return exc.reason
    if isinstance(exc, WorkerError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
