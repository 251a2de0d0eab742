"""Handing outgoing messages to the session's worker, and handing them again
after the session moved (failover, drain) until one is confirmed sent.

A message is re-sent only by id; the worker records the ids it has sent (in
state that travels with the session's snapshot) and skips an id it already
sent, so a re-dispatch cannot send twice except in the window documented in
docs/failover.md.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.core import transport
from control_plane.core.errors import WorkerUnavailable
from control_plane.messaging import media
from control_plane.messaging.models import EarlyAck, Message
from control_plane.sessions.models import Session
from shared.commands import SendMessage
from shared.envelope import Envelope
from shared.types import MediaSpec

log = logging.getLogger(__name__)
PENDING = [Message.Status.QUEUED, Message.Status.DISPATCHED]


def _command(message: Message, session: Session) -> SendMessage:
    spec = None
    if message.kind != Message.Kind.TEXT:
        spec = MediaSpec(
            mimetype=message.mimetype,
            filename=message.filename or None,
            size=message.media_size,
            data_b64=media.load_b64(message.media_blob),
        )
    return SendMessage(
        session_id=session.id,
        generation=session.generation,
        message_id=message.id,
        to=message.to_number,
        kind=message.kind,
        text=message.text or None,
        caption=message.caption or None,
        media=spec,
    )


def dispatchable(session: Session) -> bool:
    return session.status == Session.Status.CONNECTED and bool(session.worker_id)


def mark_dispatched(message: Message, session: Session) -> None:
    """Fields of a message handed to ``session``'s current route (not saved here)."""
    message.status = Message.Status.DISPATCHED
    message.last_dispatched_at = timezone.now()
    message.dispatched_at = message.dispatched_at or message.last_dispatched_at
    message.dispatch_count += 1
    message.dispatched_generation = session.generation


def hand_over_quietly(message: Message, session: Session) -> None:
    """Put a freshly accepted message on its worker's stream. A Redis failure here leaves
    it for the sweeper, which hands over unconfirmed messages again."""
    try:
        transport.send_command(worker_id=session.worker_id, command=_command(message, session))
    except WorkerUnavailable as exc:
        log.warning("message %s not handed over yet: %s", message.id, exc)


def message_dispatch(*, message_id: str, reply: bool = False) -> Envelope | None:
    """Send one pending message to its session's worker if the session is connected.

    Returns the command's envelope (for ``reply``), or None when it must wait.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(no_key=True).filter(pk=message_id, status__in=PENDING).first()
        )
        if message is None:
            return None
        session = Session.objects.get(pk=message.session_id)
        if not dispatchable(session):
            return None  # it waits; the session's next "connected" dispatches it
        envelope = transport.send_command(
            worker_id=session.worker_id, command=_command(message, session), reply=reply
        )
        mark_dispatched(message, session)
        message.save(
            update_fields=[
                "status",
                "dispatched_at",
                "last_dispatched_at",
                "dispatch_count",
                "dispatched_generation",
            ]
        )
    return envelope


def dispatch_quietly(message_id: str) -> None:
    """After-commit dispatch: a Redis hiccup leaves the message queued for the sweeper."""
    try:
        message_dispatch(message_id=message_id)
    except WorkerUnavailable as exc:
        log.warning("message %s stays queued: %s", message_id, exc)


def messages_redispatch(*, session_id: str) -> int:
    """The session is connected (again): hand every unconfirmed message to its
    current worker, oldest first. Returns how many were handed over."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        return 0
    stale = Message.objects.filter(
        session_id=session_id, direction=Message.Direction.OUT, status__in=PENDING
    ).exclude(dispatched_generation=session.generation)
    count = 0
    for message_id in stale.order_by("created_at", "id").values_list("id", flat=True):
        dispatch_quietly(message_id)
        count += 1
    return count


def messages_sweep(*, queued_for: timedelta = timedelta(seconds=30)) -> int:
    """Beat task body: hand over again what may not have reached a worker — messages
    left queued on connected sessions, dispatched to an older route, or handed over
    but unconfirmed for ``MESSAGE_REDISPATCH_AFTER`` (a Redis failure at hand-over).
    The worker skips an id it already sent, so a repeat is harmless."""
    now = timezone.now()
    # Acks for messages this service never sent (sent from the phone itself) are not kept.
    EarlyAck.objects.filter(received_at__lt=now - timedelta(hours=1)).delete()
    connected = Session.objects.filter(status=Session.Status.CONNECTED, worker__isnull=False)
    waiting = connected.filter(messages__status__in=PENDING, messages__created_at__lt=now - queued_for)
    count = sum(messages_redispatch(session_id=s) for s in waiting.distinct().values_list("id", flat=True))
    unconfirmed = Message.objects.filter(
        direction=Message.Direction.OUT,
        status=Message.Status.DISPATCHED,
        session__in=connected,
        last_dispatched_at__lt=now - timedelta(seconds=settings.MESSAGE_REDISPATCH_AFTER),
    ).order_by("created_at", "id")
    for message_id in unconfirmed.values_list("id", flat=True)[:500]:
        dispatch_quietly(message_id)
        count += 1
    return count
