"""``session.logout``: unlink from the phone and delete the local profile."""

from __future__ import annotations

import asyncio
import shutil

from shared.commands import LogoutSession
from shared.events import SessionStatusChanged
from shared.types import SessionStatus
from worker.errors import CommandRefused
from worker.handlers.base import HandlerContext, Outcome

TIMEOUT = 60.0


async def handle(ctx: HandlerContext, command: LogoutSession) -> Outcome:
    """A running session logs out in its page (WhatsApp forgets the device) and its
    profile is wiped. A stopped session that still has a local profile cannot reach
    the phone: its profile is deleted, which drops the credentials all the same."""
    live = ctx.registry.get(command.session_id)
    if live is not None:
        await ctx.runner.logout(live)
        return Outcome(data={"unlinked": True})
    profile_dir = ctx.settings.profile_dir(command.session_id)
    if not profile_dir.exists():
        raise CommandRefused("not_held", f"this worker neither runs nor keeps session {command.session_id}")
    await asyncio.to_thread(shutil.rmtree, profile_dir, True)
    await ctx.outbox.publish(
        SessionStatusChanged(
            session_id=command.session_id,
            generation=command.generation,
            status=SessionStatus.DISCONNECTED,
            reason="logout",
        )
    )
    return Outcome(data={"unlinked": False, "profile_deleted": True})
