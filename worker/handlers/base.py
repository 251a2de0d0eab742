"""What every command handler gets and returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from worker.errors import CommandRefused
from worker.outbox import Outbox
from worker.runner import SessionRunner
from worker.sessions import LiveSession, SessionRegistry
from worker.settings import WorkerSettings
from worker.snapshots import SnapshotService

if TYPE_CHECKING:
    from worker.adb import AdbController


@dataclass(frozen=True)
class HandlerContext:
    """The worker's services, as handlers see them."""

    settings: WorkerSettings
    registry: SessionRegistry
    runner: SessionRunner
    snapshots: SnapshotService
    outbox: Outbox
    http: httpx.AsyncClient  # for media URLs (the control plane has its own client)
    adb: AdbController | None = None


@dataclass(frozen=True)
class Outcome:
    """How a command ended; becomes the ``command.result`` on its reply key.

    A handler returns ``ok=False`` when it already reported the failure with its
    own event (``message.failed``...); ``refused`` outcomes come from the
    dispatcher (a :class:`CommandRefused`, a timeout, an error) and are reported
    as ``command.failed``.
    """

    ok: bool = True
    code: str | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    refused: bool = False


Handler = Callable[[HandlerContext, Any], Awaitable[Outcome]]


@dataclass(frozen=True)
class HandlerSpec:
    """A handler and the time it may take before it counts as failed (``timeout``)."""

    handle: Handler
    timeout: float


def held(ctx: HandlerContext, session_id: str) -> LiveSession:
    """The live session, or a ``not_held`` refusal."""
    live = ctx.registry.get(session_id)
    if live is None:
        raise CommandRefused("not_held", f"this worker does not hold session {session_id}")
    return live
