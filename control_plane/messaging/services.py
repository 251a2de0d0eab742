"""Writes for messages: accepting a send (committed before the 202), applying
the worker's results, and recording incoming messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from control_plane.core import transport
from control_plane.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from control_plane.core.rows import row_insert
from control_plane.messaging import limits, media
from control_plane.messaging.dispatch import (
    dispatchable,
    hand_over_quietly,
    mark_dispatched,
    message_dispatch,
)
from control_plane.messaging.models import Chat, EarlyAck, Message
from control_plane.messaging.progress import advance
from control_plane.sessions.models import Session
from control_plane.sessions.selectors import session_for_send
from shared.ids import normalize_phone

ACCEPTING = (Session.Status.CONNECTED, Session.Status.RECONNECTING)


@dataclass(frozen=True)
class MediaInput:
    """Exactly one of url / data(+mimetype) / upload."""

    url: str | None = None
    data: str | None = None
    mimetype: str | None = None
    filename: str | None = None
    upload: Any = None


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        raise ValidationFailed(f"to: {exc}", details={"fields": {"to": [str(exc)]}}) from exc


def _media(kind: str, given: MediaInput | None) -> media.Media | None:
    if kind == Message.Kind.TEXT:
        return None
    if given is None:
        raise ValidationFailed(
            f"A {kind} message needs media (url, data or an uploaded file).",
            details={"fields": {"media": ["required"]}},
        )
    if given.upload is not None:
        return media.from_upload(kind, given.upload)
    if given.url:
        return media.from_url(kind, given.url)
    if given.data and given.mimetype:
        return media.from_base64(kind, given.data, given.mimetype, given.filename)
    raise ValidationFailed(
        "media needs a url, or data with a mimetype.",
        details={"fields": {"media": ["url, or data + mimetype"]}},
    )


def _existing(user: Any, key: str | None) -> Message | None:
    if not key:
        return None
    return next(iter(Message.objects.filter(owner=user, idempotency_key=key).order_by()[:1]), None)


def _insert(message: Message) -> None:
    """One INSERT, committed by itself. Inside a caller's transaction (tests, the
    admin) a savepoint keeps that transaction usable when the insert is refused."""
    if connection.in_atomic_block:
        with transaction.atomic():
            row_insert(message)
    else:
        row_insert(message)


def message_send(
    *,
    user: Any,
    session_id: str,
    to: str,
    kind: str = "text",
    text: str | None = None,
    media_input: MediaInput | None = None,
    caption: str | None = None,
    idempotency_key: str | None = None,
    dispatch: bool = True,
) -> tuple[Message, bool]:
    """Accept one outgoing message: committed as ``queued`` before this returns, then
    handed to the worker after commit. Returns (message, created); a repeated
    ``Idempotency-Key`` returns the first message and sends nothing. With
    ``dispatch=False`` the caller hands it over itself (``?wait=true``).

    A text send is one lookup and one insert: the key's uniqueness in the database,
    not a read beforehand, finds a repeat (a repeat that would be refused, for the
    session's status or a limit, returns the first message instead)."""
    if kind != Message.Kind.TEXT:  # look before fetching or storing media again
        found = _existing(user, idempotency_key)
        if found is not None:
            return found, False
    try:
        number = _phone(to)
        if kind == Message.Kind.TEXT and not (text or "").strip():
            raise ValidationFailed("A text message needs text.", details={"fields": {"text": ["required"]}})
        session = session_for_send(user=user, session_id=session_id)
        if session.status not in ACCEPTING:
            raise Conflict(
                f"The session is {session.status}; connect it before sending.",
                details={"status": session.status},
            )
        limits.enforce(user=user, session_id=session.id)
        limits.refuse_duplicate(session_id=session.id, chat=number, text=text or "")
    except (Conflict, RateLimited, ValidationFailed, NotFound):
        found = _existing(user, idempotency_key)
        if found is not None:
            return found, False
        raise
    content = _media(kind, media_input)
    message = Message(
        session=session,
        owner=user,
        direction=Message.Direction.OUT,
        chat=number,
        to_number=number,
        from_number=session.phone,
        kind=kind,
        text=text or "",
        caption=caption or "",
        status=Message.Status.QUEUED,
        idempotency_key=idempotency_key,
    )
    if content is not None:
        message.mimetype, message.filename, message.media_size = (
            content.mimetype,
            content.filename,
            len(content.content),
        )
        message.media_blob = media.store(message.id, content)
    handing_over = dispatch and dispatchable(session)
    if handing_over:
        # Recorded as handed over in the same single write: the send path costs one
        # database round trip. If the hand-over below fails, the sweeper re-sends it.
        mark_dispatched(message, session)
    try:
        _insert(message)  # committed here (no outer transaction in a request)
    except IntegrityError:
        media.discard(message.media_blob)
        found = _existing(user, idempotency_key)  # this key was used before, or just now by a racer
        if found is None:
            raise NotFound("No such session.") from None  # deleted while this send ran
        return found, False
    if handing_over:
        transaction.on_commit(lambda: hand_over_quietly(message, session), robust=True)
    return message, True


def message_send_and_wait(*, message: Message) -> Message:
    """``?wait=true``: hand the message over with a reply key and wait for the worker."""
    if message.status not in (Message.Status.QUEUED, Message.Status.DISPATCHED):
        return message
    envelope = message_dispatch(message_id=message.id, reply=True)
    if envelope is None:
        raise Conflict(
            "The session is reconnecting; send without wait=true and the message is queued.",
            details={"message": message.id},
        )
    result = transport.await_reply(envelope=envelope, timeout=settings.MESSAGE_WAIT)
    if result.ok:
        message_record_sent(
            session_id=message.session_id,
            message_id=message.id,
            wa_id=str(result.data.get("wa_id", "")),
            at=timezone.now(),
        )
    else:
        message_record_failed(
            session_id=message.session_id,
            message_id=message.id,
            code=result.code or "failed",
            reason=result.reason or "the worker refused",
        )
    message.refresh_from_db()
    return message


def _touch_chat(session_id: str, number: str, *, incoming: bool, at: Any) -> None:
    field = "messages_in" if incoming else "messages_out"
    updated = Chat.objects.filter(session_id=session_id, number=number).update(
        last_message_at=at, **{field: F(field) + 1}
    )
    if not updated:
        try:
            with transaction.atomic():
                Chat.objects.create(session_id=session_id, number=number, last_message_at=at, **{field: 1})
        except IntegrityError:
            Chat.objects.filter(session_id=session_id, number=number).update(
                last_message_at=at, **{field: F(field) + 1}
            )
        Session.objects.filter(pk=session_id).update(
            total_chats=Chat.objects.filter(session_id=session_id).count()
        )


@transaction.atomic(savepoint=False)  # no savepoint inside the ingester's batch
def message_record_sent(*, session_id: str, message_id: str, wa_id: str, at: Any) -> Message | None:
    """The worker sent it (idempotent: a second report changes nothing)."""
    message = (
        Message.objects.select_for_update(no_key=True).filter(pk=message_id, session_id=session_id).first()
    )
    if message is None:
        return None
    first_time = message.sent_at is None
    changed = advance(message, Message.Status.SENT, at)
    if wa_id and not message.wa_id:
        message.wa_id = wa_id
        changed.append("wa_id")
    for early in EarlyAck.objects.filter(session_id=session_id, wa_id=message.wa_id).order_by("at"):
        changed += [f for f in advance(message, early.level, early.at) if f not in changed]
        early.delete()
    if changed:
        message.save(update_fields=changed)
    if first_time and message.sent_at is not None:
        Session.objects.filter(pk=session_id).update(messages_sent=F("messages_sent") + 1, last_activity=at)
        _touch_chat(session_id, message.chat, incoming=False, at=at)
        transaction.on_commit(lambda: media.discard(message.media_blob), robust=True)
    return message


@transaction.atomic(savepoint=False)  # no savepoint inside the ingester's batch
def message_record_failed(*, session_id: str, message_id: str, code: str, reason: str) -> Message | None:
    message = (
        Message.objects.select_for_update(no_key=True).filter(pk=message_id, session_id=session_id).first()
    )
    if message is None or message.sent_at is not None:
        return None  # a message WhatsApp took cannot fail afterwards
    message.status, message.failed_at = Message.Status.FAILED, timezone.now()
    message.error_code, message.error = code[:50], reason[:500]
    message.save(update_fields=["status", "failed_at", "error_code", "error"])
    transaction.on_commit(lambda: media.discard(message.media_blob), robust=True)
    return message


@transaction.atomic(savepoint=False)  # no savepoint inside the ingester's batch
def message_record_ack(*, session_id: str, wa_id: str, level: str, at: Any) -> Message | None:
    """Delivered/read for an outgoing message; an ack for a WhatsApp id not known yet
    is kept and applied when its ``message.sent`` arrives."""
    message = (
        Message.objects.select_for_update(no_key=True)
        .filter(session_id=session_id, wa_id=wa_id, direction=Message.Direction.OUT)
        .first()
    )
    if message is None:
        if Session.objects.filter(pk=session_id).exists():
            EarlyAck.objects.create(session_id=session_id, wa_id=wa_id, level=level, at=at)
        return None
    changed = advance(message, level, at)
    if changed:
        message.save(update_fields=changed)
    return message if changed else None


def message_record_received(
    *,
    session: Session,
    wa_id: str,
    sender: str,
    kind: str,
    text: str | None,
    caption: str | None,
    mimetype: str | None,
    at: Any,
) -> Message | None:
    """Store an incoming message once (the same WhatsApp id twice is one message)."""
    message = Message(
        session=session,
        owner_id=session.owner_id,
        direction=Message.Direction.IN,
        chat=sender,
        from_number=sender,
        to_number=session.phone,
        kind=kind,
        text=text or "",
        caption=caption or "",
        mimetype=mimetype or "",
        status=Message.Status.RECEIVED,
        wa_id=wa_id,
        received_at=at,
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        return None
    Session.objects.filter(pk=session.pk).update(
        messages_received=F("messages_received") + 1, last_activity=at
    )
    _touch_chat(session.pk, sender, incoming=True, at=at)
    return message
