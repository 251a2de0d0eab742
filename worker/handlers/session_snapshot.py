"""``session.snapshot``: upload a fresh encrypted profile snapshot now."""

from __future__ import annotations

from shared.commands import SnapshotSession
from worker.engine import EngineError
from worker.errors import CommandRefused, Conflict, NotFound, WorkerError
from worker.handlers.base import HandlerContext, Outcome, held
from worker.runner import describe

TIMEOUT = 180.0


async def handle(ctx: HandlerContext, command: SnapshotSession) -> Outcome:
    """Snapshot and upload (before a drain moves the session, for example); a
    ``session.snapshot_stored`` event follows. A session never linked in this run
    has no credentials worth keeping and is refused (``not_linked``)."""
    live = held(ctx, command.session_id)
    if not live.linked:
        raise CommandRefused("not_linked", f"session {command.session_id} has not been linked in this run")
    try:
        stored = await ctx.snapshots.upload(live)
    except Conflict as exc:
        raise CommandRefused("stale_generation", describe(exc)) from exc
    except NotFound as exc:
        raise CommandRefused("not_routed", describe(exc)) from exc
    except (EngineError, WorkerError) as exc:
        raise CommandRefused("snapshot_failed", describe(exc)) from exc
    return Outcome(data={"size": stored.size, "sha256": stored.sha256, "generation": stored.generation})
