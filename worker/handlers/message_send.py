"""``message.send``: send one outgoing message, exactly once per message id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from shared.commands import SendMessage
from shared.events import MessageFailed, MessageSent
from shared.types import SessionStatus
from worker import media
from worker.engine import EngineError, SendError
from worker.handlers.base import HandlerContext, Outcome, held
from worker.runner import describe
from worker.sent_messages import SentLog
from worker.sessions import LiveSession

log = logging.getLogger(__name__)
TIMEOUT = 150.0  # waiting for a reconnect, fetching media, the engine's own send timeout
CONNECT_WAIT = 30.0  # a session that is (re)connecting gets this long before the send fails
WAITABLE = (SessionStatus.CONNECTING, SessionStatus.RECONNECTING)


async def handle(ctx: HandlerContext, command: SendMessage) -> Outcome:
    """Send through the session's page and record the message id with its WhatsApp id
    (inside the profile) right after the send returns. An id already recorded is not
    sent again: ``message.sent`` is repeated with ``duplicate=True`` and the recorded
    id. Failures become ``message.failed`` with a machine-readable code."""
    live = held(ctx, command.session_id)
    sent = SentLog(live.profile_dir)
    record = await asyncio.to_thread(sent.get, command.message_id)
    if record is not None:
        log.info("session %s: message %s already sent, not again", live.session_id, command.message_id)
        return await _sent(ctx, live, command, record.wa_id, record.at, duplicate=True)
    try:
        payload = (
            await media.inline(ctx.http, command.media, ctx.settings.media_max_bytes)
            if command.media
            else None
        )
        await _wait_connected(live)
        if live.runtime is None:
            raise SendError("not_connected", "the session is still starting", retryable=True)
        wa_id = await live.runtime.send(
            to=command.to, kind=command.kind, text=command.text, media=payload, caption=command.caption
        )
    except media.MediaError as exc:
        return await _failed(ctx, live, command, exc.code, exc.message)
    except SendError as exc:
        return await _failed(ctx, live, command, exc.code, exc.reason)
    except EngineError as exc:
        return await _failed(ctx, live, command, "page_error", describe(exc))
    at = datetime.now(UTC)
    sent.record(command.message_id, wa_id, at)  # on the loop: the double-send window ends here
    await asyncio.to_thread(sent.fold_if_due)
    return await _sent(ctx, live, command, wa_id, at, duplicate=False)


async def _wait_connected(live: LiveSession) -> None:
    if live.status in WAITABLE:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.connected.wait(), CONNECT_WAIT)


async def _sent(
    ctx: HandlerContext, live: LiveSession, command: SendMessage, wa_id: str, at: datetime, *, duplicate: bool
) -> Outcome:
    event = MessageSent(
        session_id=live.session_id,
        generation=live.generation,
        message_id=command.message_id,
        wa_id=wa_id,
        at=at,
        duplicate=duplicate,
    )
    await ctx.outbox.publish(event)
    return Outcome(data={"message_id": command.message_id, "wa_id": wa_id, "duplicate": duplicate})


async def _failed(
    ctx: HandlerContext, live: LiveSession, command: SendMessage, code: str, reason: str
) -> Outcome:
    log.warning("session %s: message %s failed: %s: %s", live.session_id, command.message_id, code, reason)
    event = MessageFailed(
        session_id=live.session_id,
        generation=live.generation,
        message_id=command.message_id,
        code=code,
        reason=reason,
    )
    await ctx.outbox.publish(event)
    return Outcome(ok=False, code=code, reason=reason, data={"message_id": command.message_id})
