"""``session.start``: launch a session, or take over one this worker already runs."""

from __future__ import annotations

from shared.commands import StartSession
from shared.events import SessionStatusChanged
from worker.engine import EngineError
from worker.errors import CommandRefused, WorkerError
from worker.handlers.base import HandlerContext, Outcome
from worker.runner import StartOptions, describe
from worker.sessions import LiveSession

TIMEOUT = 300.0  # waiting for a start slot, restoring a snapshot, launching with retries


async def handle(ctx: HandlerContext, command: StartSession) -> Outcome:
    """Start ``command.session_id`` (local profile first, the stored snapshot when
    ``restore`` is set and there is none). Acknowledged once Chromium runs the page;
    the QR or the connection follows as events.

    A session already held is taken over at the command's generation (the fence
    has already moved it): nothing restarts, and its current status is announced
    again so the control plane learns it under the new generation.
    """
    live = ctx.registry.get(command.session_id)
    if live is not None:
        await ctx.outbox.publish(current_status(live))
        return Outcome(data={"already_running": True, "generation": live.generation, "status": live.status})
    profile_dir = ctx.settings.profile_dir(command.session_id)
    live = ctx.registry.reserve(command.session_id, profile_dir, command.generation)
    options = StartOptions(proxy=command.proxy, qr_max=command.qr_max, restore=command.restore)
    try:
        source = await ctx.runner.start(live, options)
    except EngineError as exc:
        raise CommandRefused("start_failed", describe(exc)) from exc
    except WorkerError as exc:  # the snapshot could not be fetched
        raise CommandRefused("restore_failed", describe(exc)) from exc
    return Outcome(data={"already_running": False, "generation": live.generation, "source": source})


def current_status(live: LiveSession) -> SessionStatusChanged:
    runtime = live.runtime
    return SessionStatusChanged(
        session_id=live.session_id,
        generation=live.generation,
        status=live.status,
        reason=runtime.reason if runtime else None,
        phone=runtime.phone if runtime else None,
        platform=runtime.platform if runtime else None,
        wa_version=runtime.wa_version if runtime else None,
    )
