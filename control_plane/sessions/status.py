"""The one way a session changes status: fields, history row, live push."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from control_plane.core import transport
from control_plane.sessions import realtime
from control_plane.sessions.models import Session, SessionStatusChange


def session_set_status(
    *, session: Session, status: str, reason: str = "", previous: str | None = None, **fields: Any
) -> None:
    """Move ``session`` to ``status`` (recording the transition) and save it.

    Must run in the caller's transaction; the push to websockets and webhooks
    leaves after commit.
    """
    previous = session.status if previous is None else previous
    for name, value in fields.items():
        setattr(session, name, value)
    session.status = status
    if status in (Session.Status.DISCONNECTED, Session.Status.ERROR) and reason:
        session.last_disconnect_reason = reason[:200]
    session.updated_at = timezone.now()
    session.save()
    if previous != status:
        SessionStatusChange.objects.create(
            session=session,
            from_status=previous,
            to_status=status,
            reason=reason[:200],
            worker_id=session.worker_id or "",
            generation=session.generation,
        )
        realtime.announce(
            session.owner_id,
            session.id,
            "session.status",
            realtime.status_payload(session, reason=reason, previous=previous),
        )


def session_release(*, session: Session) -> None:
    """Take the session off its worker: no route, and a new generation so anything the
    old worker still says or does about it is fenced off."""
    session.worker = None
    session.generation += 1
    session.qr, session.qr_attempt, session.qr_expires_at = "", 0, None
    session_id = session.id
    transaction.on_commit(lambda: transport.route_clear(session_id=session_id))
