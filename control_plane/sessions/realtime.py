"""Announcing what happened to a session: to the customer's open websockets
(Channels groups, Redis layer) and to their webhooks, from one place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, channel_layers
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


class _PushLoop:
    """The process's one event loop for websocket pushes, in a daemon thread, with a
    channel layer of its own. ``async_to_sync`` ran every push in a new event loop,
    and the Redis layer keeps its connections per loop: each push opened a new
    connection (3.7 ms of wall time, measured), which capped the ingester at about
    90 messages a second. A forked child (a Celery pool process) starts its own loop."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a lock held at fork time stays held

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer: BaseChannelLayer | None = None

    def group_send(self, group: str, message: dict[str, Any], *, timeout: float) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="websocket-push", daemon=True).start()
                self._layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
                self._pid = os.getpid()
            loop, layer = self._loop, self._layer
        assert loop is not None and layer is not None
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        try:
            future.result(timeout)
        finally:
            future.cancel()  # a no-op once done; stops a push that timed out


_push_loop = _PushLoop()


def push(user_id: str, session_id: str, event: str, data: dict[str, Any]) -> None:
    """Send one event to the customer's open websockets (after commit; never raises)."""
    if DEFAULT_CHANNEL_LAYER not in channel_layers.configs:
        return
    message = {"type": "session.event", "event": event, "session": session_id, "data": data}
    try:
        _push_loop.group_send(user_group(user_id), message, timeout=5.0)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("live push of %s for %s failed: %s", event, session_id, exc or type(exc).__name__)


def announce(owner_id: str, session_id: str, event: str, data: dict[str, Any]) -> None:
    """In the caller's transaction: webhook deliveries are queued (an outbox) and the
    websocket push leaves after commit, so nothing is announced for a rollback."""
    from control_plane.webhooks.services import webhooks_emit

    webhooks_emit(owner_id=owner_id, session_id=session_id, event=event, data=data)
    transaction.on_commit(lambda: push(owner_id, session_id, event, data), robust=True)
