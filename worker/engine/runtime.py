"""One live WhatsApp session: its Chromium, its page adapter, its lifecycle.

A runtime owns one profile directory and at most one Chromium at a time. A
supervisor task turns what the page reports into status changes and events,
keeps the session alive (the page reconnects on its own; a page that stays
offline is reloaded with backoff; a dead Chromium is relaunched from the
same profile) and gives up, with status ``error``, after bounded retries.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from playwright.async_api import Page, Playwright

from shared.events import (
    PairingCodeIssued,
    SessionEvent,
    SessionStatusChanged,
)
from shared.types import MediaSpec, MessageKind, ProxySpec, SessionStatus
from worker.engine import processes
from worker.engine.adapter import (
    PageAdapter,
    PageInfo,
    Signal,
)
from worker.engine.browser import BrowserSession, wait_and_reap
from worker.engine.config import EngineConfig
from worker.engine.errors import EngineError, PageError, PairingError, SendError
from worker.engine.snapshot import snapshot_profile
from worker.engine.stream import EventStream
from worker.engine.supervisor import BrowserGone, Supervision

log = logging.getLogger(__name__)


class SessionRuntime(Supervision):
    """Drive one session's WhatsApp Web in its own Chromium (see docs/engine.md)."""

    def __init__(
        self,
        *,
        session_id: str,
        profile_dir: Path,
        playwright: Playwright,
        config: EngineConfig,
        proxy: ProxySpec | None = None,
        generation: int = 0,
        qr_max: int = 6,
        pairing_phone: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.profile_dir = Path(profile_dir)
        self.config = config
        self.proxy = proxy
        self.generation = generation
        self.qr_max = qr_max
        self.pairing_phone = pairing_phone
        self._playwright = playwright
        self._stream = EventStream(session_id, generation, config.event_queue_max)
        self._signals: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self._browser: BrowserSession | None = None
        self._adapter: PageAdapter | None = None
        self._epoch = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._status = SessionStatus.DISCONNECTED
        self._reason: str | None = None
        self._info = PageInfo(installed=False)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._stopping = False
        self._done = False
        self._logging_out = False
        self._linked = False  # the session has been logged in during this run
        self._page_synced = False  # the current page finished its sync (reset on reload/relaunch)
        self._qr_count = 0
        self._qr_deadline = 0.0
        self._codes = 0
        self._code_deadline: float | None = None
        self._lost_at: float | None = None
        self._reconnects = 0
        self._next_reconnect = 0.0
        self._relaunches = 0

    # -- public surface ---------------------------------------------------------
    @property
    def status(self) -> SessionStatus:
        return self._status

    @property
    def reason(self) -> str | None:
        return self._reason

    @property
    def phone(self) -> str | None:
        return self._info.phone

    @property
    def platform(self) -> str | None:
        return self._info.platform

    @property
    def wa_version(self) -> str | None:
        return self._info.wa_version

    @property
    def running(self) -> bool:
        return self._supervisor is not None and not self._supervisor.done()

    def browser_pids(self) -> list[int]:
        """Every process of this session's Chromium (for per-session PSS)."""
        return self._browser.pids() if self._browser is not None else []

    async def events(self) -> AsyncIterator[SessionEvent]:
        """Events in order; the stream ends when the runtime stops for good."""
        async for event in self._stream.iterate():
            yield event

    async def start(self) -> None:
        """Launch Chromium and open WhatsApp Web; returns once the adapter is attached."""
        if self.running:
            raise EngineError("session already running")
        self._reset_counters()
        self._set_status(SessionStatus.CONNECTING)
        try:
            await self._open_with_retries()
        except EngineError as exc:
            await self._shutdown(SessionStatus.ERROR, f"launch_failed: {exc.reason}")
            raise
        self._mark_unsettled(self.config.timeouts.page_ready)  # QR or connected, or it gets reloaded
        self._supervisor = asyncio.create_task(self._supervise(), name=f"session-{self.session_id}")

    async def stop(self) -> None:
        """Close Chromium and keep the profile (the session can start again without a scan)."""
        if self._done and not self.running:
            return
        await self._shutdown(SessionStatus.DISCONNECTED, "stopped")

    async def logout(self) -> None:
        """Unlink from the phone (when the page is up and linked) and wipe the profile."""
        page = self._page()
        if page is not None and self._linked and self._adapter is not None:
            self._logging_out = True
            try:
                await self._adapter.logout(page)
            except (PageError, TimeoutError) as exc:
                log.warning("session %s: logout did not reach WhatsApp (%s)", self.session_id, exc)
        await self._shutdown(SessionStatus.DISCONNECTED, "logout", wipe=True)

    async def send(
        self, *, to: str, kind: MessageKind, text: str | None, media: MediaSpec | None, caption: str | None
    ) -> str:
        """Send one message; returns WhatsApp's message id or raises :class:`SendError`."""
        page = self._page()
        if page is None or self._adapter is None or self._status is not SessionStatus.CONNECTED:
            raise SendError("not_connected", f"session is {self._status.value}", retryable=True)
        async with self._send_lock:  # WhatsApp Web's send path is not safe to run concurrently
            return await self._adapter.send(page, to=to, kind=kind, text=text, media=media, caption=caption)

    async def request_pairing_code(self, phone: str) -> str:
        """Ask the page for a code to type on ``phone`` instead of scanning; ``ABCD-EFGH``."""
        page = self._page()
        waiting = self._status in (SessionStatus.CONNECTING, SessionStatus.QR_READY)
        if page is None or self._adapter is None or not waiting or self._linked:
            raise PairingError(f"session is not waiting for a link (status {self._status.value})")
        code = await self._adapter.request_pairing_code(page, phone)
        code = code if "-" in code else f"{code[:4]}-{code[4:]}"
        self.pairing_phone = phone
        self._codes += 1
        self._lost_at = None
        self._code_deadline = time.monotonic() + self.config.pairing_code_ttl
        expires = datetime.now(UTC) + timedelta(seconds=self.config.pairing_code_ttl)
        self._stream.emit(PairingCodeIssued, code=code, phone=phone, expires_at=expires)
        if self._status is not SessionStatus.QR_READY:
            self._set_status(SessionStatus.QR_READY)
        return code

    async def trim_memory(self) -> None:
        """Make the page give memory back now (GC + a memory-pressure signal); for idle sessions."""
        if self._browser is not None and self._browser.alive:
            await self._browser.trim_memory()

    async def snapshot(self, key: bytes) -> bytes:
        """An encrypted snapshot of the profile, consistent even while the session runs."""
        return await asyncio.to_thread(
            snapshot_profile, self.profile_dir, key, freeze_pids=self.browser_pids()
        )

    # -- browser ------------------------------------------------------------------
    def _page(self) -> Page | None:
        return self._browser.page if self._browser is not None and self._browser.alive else None

    async def _open_browser(self) -> None:
        self._epoch += 1
        self._page_synced = False
        epoch = self._epoch
        self._adapter = PageAdapter(partial(self._on_signal, epoch), self.config.timeouts)
        self._browser = await BrowserSession.launch(
            self._playwright, self.profile_dir, self.config, self.proxy, partial(self._on_gone, epoch)
        )
        await self._adapter.attach(self._browser.context)
        await self._browser.open(self.config.whatsapp_url)
        await self._adapter.wait_installed(self._browser.page)

    async def _open_with_retries(self) -> None:
        backoff = self.config.relaunch
        for attempt in range(1, backoff.attempts + 1):
            try:
                await self._open_browser()
                return
            except EngineError as exc:
                await self._close_browser()
                if attempt == backoff.attempts:
                    raise
                log.warning("session %s: open failed (%s), retry %d", self.session_id, exc, attempt)
                await asyncio.sleep(backoff.delay(attempt))

    async def _close_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            await browser.close()

    def _on_signal(self, epoch: int, signal: Signal) -> None:
        self._signals.put_nowait((epoch, signal))

    def _on_gone(self, epoch: int, reason: str) -> None:
        self._signals.put_nowait((epoch, BrowserGone(reason)))

    # -- events -------------------------------------------------------------------
    def _set_status(self, status: SessionStatus, reason: str | None = None) -> None:
        if (status, reason) == (self._status, self._reason):
            return
        self._status, self._reason = status, reason
        info = self._info
        self._stream.emit(
            SessionStatusChanged,
            status=status,
            reason=reason,
            phone=info.phone,
            platform=info.platform,
            wa_version=info.wa_version,
            pushname=info.pushname,
        )

    async def _shutdown(self, status: SessionStatus, reason: str, *, wipe: bool = False) -> None:
        """Stop for good: supervisor, Chromium, optionally the profile; end the event stream."""
        self._stopping = True
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_browser()
        # A launch cancelled half-way (stop during a relaunch) can leave a Chromium we never
        # got a handle on: find it by its profile and kill it.
        leftover = processes.browser_tree(processes.find_browser_pid(self.profile_dir), self.profile_dir)
        if leftover:
            log.warning("session %s: killing a leftover Chromium %s", self.session_id, leftover)
            processes.kill_tree(leftover)
            await wait_and_reap(leftover)
        if wipe:
            await asyncio.to_thread(shutil.rmtree, self.profile_dir, True)
        self._set_status(status, reason)
        self._done = True
        self._stream.end()
