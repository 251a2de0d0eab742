"""Reads for messages (always scoped to the owner)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from control_plane.core.errors import NotFound, ValidationFailed
from control_plane.messaging.models import Message
from control_plane.sessions.selectors import session_get
from shared.ids import normalize_phone


def message_list(
    *, user: Any, session_id: str, direction: str | None = None, chat: str | None = None
) -> QuerySet[Message]:
    session = session_get(user=user, session_id=session_id)
    messages = Message.objects.filter(session=session)
    if direction:
        if direction not in Message.Direction.values:
            raise ValidationFailed(
                "direction must be in or out.", details={"fields": {"direction": ["in|out"]}}
            )
        messages = messages.filter(direction=direction)
    if chat:
        try:
            messages = messages.filter(chat=normalize_phone(chat))
        except ValueError as exc:
            raise ValidationFailed(f"chat: {exc}", details={"fields": {"chat": [str(exc)]}}) from exc
    return messages


def message_get(*, user: Any, message_id: str) -> Message:
    message = Message.objects.filter(pk=message_id, owner=user).first()
    if message is None:
        raise NotFound("No such message.")
    return message
