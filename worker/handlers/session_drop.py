"""``session.drop``: the session lives elsewhere now; forget it here, silently."""

from __future__ import annotations

import asyncio
import shutil

from shared.commands import DropSession
from worker.handlers.base import HandlerContext, Outcome

TIMEOUT = 60.0


async def handle(ctx: HandlerContext, command: DropSession) -> Outcome:
    """Close the session if it runs, delete its local profile, upload nothing and
    publish nothing about it (its new worker speaks for it). Idempotent: dropping a
    session this worker does not hold just removes any profile left behind."""
    live = ctx.registry.get(command.session_id)
    if live is not None:
        await ctx.runner.close(live, silence=True, wipe=True)
    else:
        await asyncio.to_thread(shutil.rmtree, ctx.settings.profile_dir(command.session_id), True)
    return Outcome(data={"was_running": live is not None})
