"""Encrypted profile snapshots: when to upload them, and restoring one into a profile.

A held session's profile is uploaded after it is linked by a scan or a
pairing code, every ``SNAPSHOT_INTERVAL`` while it stays linked, on a
``session.snapshot`` command and at shutdown. A session that came up from a
linked profile (a restart, a restore) waits a spread-out while for its first
upload: the control plane's copy still links, and a restore storm of K
sessions snapshotting as they connect halved how fast they came back. A session told to start with
no local profile is restored from the control plane's copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.events import SnapshotStored
from shared.types import SessionStatus
from worker.clients.control_plane import ControlPlaneClient
from worker.engine import EngineError, restore_profile, snapshot_key_from_setting
from worker.errors import Conflict, NotFound, WorkerError
from worker.outbox import Outbox
from worker.sessions import LiveSession, SessionRegistry
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)
KEY_FILE = "snapshot.key"
UPLOAD_CONCURRENCY = 2  # each snapshot compresses a profile: keep the cores for the sessions
LINKED = (SessionStatus.CONNECTED, SessionStatus.RECONNECTING)
FIRST_UPLOAD_AFTER_RESTORE = (60.0, 180.0)  # seconds, spread at random


def resolve_key(settings: WorkerSettings) -> bytes:
    """SNAPSHOT_KEY, or (development/test only) a key derived from the enrollment token.

    The derived key is saved in the data directory and reused from there, so it
    stays stable; workers sharing an enrollment token derive the same key and
    can restore each other's sessions, as production workers sharing SNAPSHOT_KEY do.
    """
    if settings.snapshot_key is not None:
        return settings.snapshot_key
    path = settings.data_dir / KEY_FILE
    if path.exists():
        key = snapshot_key_from_setting(path.read_text(encoding="ascii"))
    else:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wagate development snapshot key")
        key = hkdf.derive(settings.enrollment_token.encode())
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key.hex())
    log.warning(
        "SNAPSHOT_KEY is not set: using a %s key derived from the enrollment token (saved in %s);"
        " set SNAPSHOT_KEY in production",
        settings.env,
        path,
    )
    return key


def has_local_profile(profile_dir: Path) -> bool:
    """A Chromium profile exists (not just the worker's own files beside it)."""
    return (profile_dir / "Default").is_dir()


class SnapshotService:
    """Uploads and restores the snapshots of this worker's sessions."""

    def __init__(self, client: ControlPlaneClient, outbox: Outbox, key: bytes, interval: float) -> None:
        self._client = client
        self._outbox = outbox
        self._key = key
        self.interval = interval
        self._tasks: set[asyncio.Task[bool]] = set()

    async def upload(self, live: LiveSession) -> SnapshotStored:
        """Snapshot the live profile now and upload it at the session's generation."""
        async with live.snapshot_lock:
            runtime = live.runtime
            if runtime is None or not runtime.running:
                raise EngineError(f"session {live.session_id} is not running")
            started = time.monotonic()
            blob = await runtime.snapshot(self._key)
            generation = live.generation
            await self._client.upload_snapshot(live.session_id, generation, blob)
            live.uploaded, live.last_snapshot_at = True, time.monotonic()
            event = SnapshotStored(
                session_id=live.session_id,
                generation=generation,
                size=len(blob),
                sha256=hashlib.sha256(blob).hexdigest(),
            )
            log.info(
                "session %s: snapshot uploaded (%d bytes, %.2fs)",
                live.session_id,
                len(blob),
                time.monotonic() - started,
            )
        if not live.silenced:
            await self._outbox.publish(event)
        return event

    async def try_upload(self, live: LiveSession) -> bool:
        """Upload, logging (never raising) what went wrong; True if it was stored."""
        try:
            await self.upload(live)
            return True
        except Conflict:
            log.warning("session %s: snapshot refused, the session moved (stale generation)", live.session_id)
        except NotFound:
            log.warning("session %s: snapshot refused, the session is not routed here", live.session_id)
        except (WorkerError, EngineError, OSError) as exc:
            log.warning("session %s: snapshot failed: %s", live.session_id, exc)
        return False

    def schedule_upload(self, live: LiveSession) -> None:
        """Upload in the background (after linking); the task is kept until it ends."""
        task = asyncio.create_task(self.try_upload(live), name=f"snapshot-{live.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def defer_first_upload(self, live: LiveSession) -> None:
        """A run from a linked profile: no upload on connect; the periodic one comes due
        between one and three minutes from now (never later than the interval)."""
        live.upload_on_connect = False
        delay = min(random.uniform(*FIRST_UPLOAD_AFTER_RESTORE), self.interval)
        live.last_snapshot_at = time.monotonic() - self.interval + delay

    async def download_into(self, session_id: str, profile_dir: Path) -> bool:
        """Restore the stored snapshot into ``profile_dir``; False when there is none."""
        blob = await self._client.download_snapshot(session_id)
        if blob is None:
            return False
        await asyncio.to_thread(restore_profile, blob, profile_dir, self._key, replace=True)
        return True

    def due(self, live: LiveSession) -> bool:
        if not live.linked or live.status not in LINKED or live.silenced:
            return False
        return live.last_snapshot_at is None or time.monotonic() - live.last_snapshot_at >= self.interval

    async def periodic(self, registry: SessionRegistry) -> None:
        """Forever: upload every linked session whose last snapshot is older than the interval."""
        tick = min(self.interval / 4, 30.0)
        while True:
            await asyncio.sleep(tick)
            for live in registry.all():
                try:
                    if self.due(live):
                        await self.try_upload(live)
                except Exception:  # one session's bug must not end the loop for the others
                    log.exception("session %s: periodic snapshot failed unexpectedly", live.session_id)

    async def upload_all(self, lives: list[LiveSession], within: float) -> int:
        """Shutdown: upload every linked session, bounded in time; returns how many were stored."""
        slots = asyncio.Semaphore(UPLOAD_CONCURRENCY)

        async def one(live: LiveSession) -> bool:
            async with slots:
                return await self.try_upload(live)

        linked = [live for live in lives if live.linked and live.status in LINKED]
        tasks = [asyncio.create_task(one(live)) for live in linked]
        if not tasks:
            return 0
        done, pending = await asyncio.wait(tasks, timeout=within)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.warning("shutdown: %d snapshot(s) did not finish in %.0fs", len(pending), within)
        return sum(1 for task in done if not task.cancelled() and task.result())

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
