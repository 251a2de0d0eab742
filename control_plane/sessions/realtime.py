"""Announcing what happened to a session: to the customer's open websockets
(Channels groups, Redis layer) and to their webhooks, from one place.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis import RedisError

from control_plane.sessions.models import Session

log = logging.getLogger(__name__)


def user_group(user_id: str) -> str:
    return f"user.{user_id}"


def status_payload(session: Session, *, reason: str = "", previous: str = "") -> dict[str, Any]:
    return {
        "status": session.status,
        "previous": previous,
        "reason": reason,
        "phone": session.phone or None,
        "worker": session.worker_id,
        "at": session.updated_at.isoformat(),
    }


def push(user_id: str, session_id: str, event: str, data: dict[str, Any]) -> None:
    """Send one event to the customer's open websockets (after commit; never raises)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "session.event", "event": event, "session": session_id, "data": data}
    try:
        async_to_sync(layer.group_send)(user_group(user_id), message)
    except (RedisError, OSError) as exc:
        log.warning("live push of %s for %s failed: %s", event, session_id, exc)


def announce(owner_id: str, session_id: str, event: str, data: dict[str, Any]) -> None:
    """In the caller's transaction: webhook deliveries are queued (an outbox) and the
    websocket push leaves after commit, so nothing is announced for a rollback."""
    from control_plane.webhooks.services import webhooks_emit

    webhooks_emit(owner_id=owner_id, session_id=session_id, event=event, data=data)
    transaction.on_commit(lambda: push(owner_id, session_id, event, data))
