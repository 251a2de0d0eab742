"""The registry of live sessions: capacity, per-session ordering and fencing.

A session is *held* from the moment a start reserves its slot until its
runtime has stopped for good. At most ``capacity`` sessions are held.
``generations`` remembers the newest route generation seen per session
(held or not), so a command from an older route is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from shared.types import SessionStatus
from worker.engine import SessionRuntime
from worker.errors import CommandRefused

# Session status -> the heartbeat's breakdown bucket.
BREAKDOWN = {
    SessionStatus.CONNECTED: "connected",
    SessionStatus.QR_READY: "qr_required",
    SessionStatus.CONNECTING: "connecting",
    SessionStatus.RECONNECTING: "connecting",
    SessionStatus.DISCONNECTED: "disconnected",
    SessionStatus.ERROR: "error",
    SessionStatus.INACTIVE: "disconnected",
}


@dataclass(eq=False)
class LiveSession:
    """One held session: its runtime (None while starting) and what the worker tracks about it."""

    session_id: str
    profile_dir: Path
    generation: int
    runtime: SessionRuntime | None = None
    pump: asyncio.Task[None] | None = None
    silenced: bool = False  # drop/shutdown: its remaining events are not published
    stop_reason: str | None = None  # the reason a session.stop asked for
    linked: bool = False  # reached ``connected`` during this run
    uploaded: bool = False  # a snapshot was uploaded during this run
    upload_on_connect: bool = True  # False when the run began from a linked profile
    last_snapshot_at: float | None = None  # monotonic
    started_at: float = field(default_factory=time.monotonic)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def status(self) -> SessionStatus:
        if self.runtime is None:
            return SessionStatus.CONNECTING
        return self.runtime.status

    def set_generation(self, generation: int) -> None:
        """Take the session over at a newer route generation (the pump stamps it on every
        event from now on)."""
        self.generation = generation


class SessionRegistry:
    """Held sessions by id, the capacity limit and the newest generation per session."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._live: dict[str, LiveSession] = {}
        self._generations: dict[str, int] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __len__(self) -> int:
        return len(self.all())

    def get(self, session_id: str) -> LiveSession | None:
        """The held session; one whose runtime has just ended counts as not held."""
        live = self._live.get(session_id)
        return live if live is not None and not live.ended.is_set() else None

    def all(self) -> list[LiveSession]:
        return [live for live in self._live.values() if not live.ended.is_set()]

    def lock(self, session_id: str) -> asyncio.Lock:
        """Commands for one session run one at a time, in the order they were read."""
        return self._locks[session_id]

    def newest_generation(self, session_id: str) -> int | None:
        return self._generations.get(session_id)

    def fence(self, session_id: str, generation: int) -> None:
        """Refuse a generation older than the newest seen; remember a newer one."""
        newest = self._generations.get(session_id)
        if newest is not None and generation < newest:
            raise CommandRefused(
                "stale_generation",
                f"generation {generation} of session {session_id} is older than {newest}, the newest seen",
            )
        self._generations[session_id] = generation
        live = self.get(session_id)
        if live is not None and generation > live.generation:
            live.set_generation(generation)

    def reserve(self, session_id: str, profile_dir: Path, generation: int) -> LiveSession:
        """Hold a slot for a session about to start; refuse when the worker is full."""
        if self.get(session_id) is not None:
            raise RuntimeError(f"session {session_id} is already held")
        self._live.pop(session_id, None)  # ended, its pump not yet finished: the slot is free
        held = len(self.all())
        if held >= self.capacity:
            raise CommandRefused("capacity", f"this worker already runs {held} of {self.capacity} sessions")
        live = LiveSession(session_id=session_id, profile_dir=profile_dir, generation=generation)
        self._live[session_id] = live
        return live

    def release(self, live: LiveSession) -> None:
        """Forget a session that stopped (only if it is still the one held under its id)."""
        if self._live.get(live.session_id) is live:
            del self._live[live.session_id]

    def breakdown(self) -> dict[str, int]:
        counts = dict.fromkeys(("connected", "qr_required", "connecting", "disconnected", "error"), 0)
        for live in self.all():
            counts[BREAKDOWN[live.status]] += 1
        return counts
