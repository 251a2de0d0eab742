"""``session.stop``: close a session and keep its credentials."""

from __future__ import annotations

from shared.commands import StopSession
from worker.handlers.base import HandlerContext, Outcome, held

TIMEOUT = 180.0  # a final snapshot, then closing Chromium


async def handle(ctx: HandlerContext, command: StopSession) -> Outcome:
    """Snapshot the profile first (when asked and the session was linked), then close
    Chromium. The profile stays, so a later start needs no scan; the status event
    says ``disconnected`` with the command's reason."""
    live = held(ctx, command.session_id)
    stored = False
    if command.snapshot and live.linked:
        stored = await ctx.snapshots.try_upload(live)
    live.stop_reason = command.reason
    await ctx.runner.close(live)
    return Outcome(data={"snapshot_stored": stored})
