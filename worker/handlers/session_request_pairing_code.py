"""``session.request_pairing_code``: link by typing a code on the phone instead of scanning."""

from __future__ import annotations

from shared.commands import RequestPairingCode
from worker.engine import EngineError
from worker.errors import CommandRefused
from worker.handlers.base import HandlerContext, Outcome, held
from worker.runner import describe

TIMEOUT = 45.0


async def handle(ctx: HandlerContext, command: RequestPairingCode) -> Outcome:
    """Ask the page for a pairing code for ``command.phone``; the code comes back on
    the reply key and as a ``session.pairing_code`` event."""
    live = held(ctx, command.session_id)
    if live.runtime is None:
        raise CommandRefused("not_ready", f"session {command.session_id} is still starting")
    try:
        code = await live.runtime.request_pairing_code(command.phone)
    except EngineError as exc:
        raise CommandRefused("pairing_failed", describe(exc)) from exc
    return Outcome(data={"code": code, "phone": command.phone})
