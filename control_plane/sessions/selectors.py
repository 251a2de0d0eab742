"""Reads for sessions. Every read is scoped to its owner: another customer's
session answers 404, exactly like one that does not exist."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from control_plane.core.errors import NotFound, ValidationFailed
from control_plane.sessions.models import Session, SessionStatusChange
from shared.ids import normalize_id


def session_get(*, user: Any, session_id: str, lock: bool = False, deleting: bool = False) -> Session:
    """The customer's session (404 otherwise). ``lock`` takes it FOR NO KEY UPDATE, which
    lets concurrent sends' foreign-key checks through; ``deleting`` takes FOR UPDATE,
    which makes them wait, so no message slips in while the session is deleted."""
    if deleting:
        sessions = Session.objects.select_for_update()
    elif lock:
        sessions = Session.objects.select_for_update(no_key=True)
    else:
        sessions = Session.objects
    session = sessions.filter(pk=normalize_id(session_id), owner=user).first()
    if session is None:
        raise NotFound("No such session.")
    return session


def session_list(*, user: Any, status: str | None = None) -> QuerySet[Session]:
    sessions = Session.objects.filter(owner=user)
    if status:
        if status not in Session.Status.values:
            raise ValidationFailed(
                f"status must be one of {', '.join(Session.Status.values)}.",
                details={"fields": {"status": ["unknown status"]}},
            )
        sessions = sessions.filter(status=status)
    return sessions


def session_usage(*, user: Any) -> dict[str, Any]:
    """What a customer uses of their tier."""
    return {"sessions": Session.objects.filter(owner=user).count()}


def session_history(*, user: Any, session_id: str) -> QuerySet[SessionStatusChange]:
    return session_get(user=user, session_id=session_id).status_changes.all()


def session_stats(*, user: Any) -> dict[str, Any]:
    sessions = Session.objects.filter(owner=user)
    by_status = {status: 0 for status in Session.Status.values}
    for row in sessions.values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    totals = sessions.aggregate(
        sent=Sum("messages_sent"), received=Sum("messages_received"), memory=Sum("memory_mb")
    )
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "messages_sent": totals["sent"] or 0,
        "messages_received": totals["received"] or 0,
        "memory_mb": round(totals["memory"] or 0, 1),
        "problematic": session_problematic(user=user).count(),
    }


def session_problematic(*, user: Any) -> QuerySet[Session]:
    """Sessions that need a look: in error, many failed attempts, stuck starting, or
    dropped unexpectedly (disconnected for a reason other than the customer's)."""
    return Session.objects.filter(owner=user).filter(_problematic())


def session_problematic_all() -> QuerySet[Session]:
    """The same, across every customer: the operators' fleet page."""
    return Session.objects.filter(_problematic()).select_related("owner", "worker")


def _problematic() -> Q:
    stuck_before = timezone.now() - timedelta(seconds=settings.SESSION_STUCK_AFTER)
    expected = ["created", "stopped by the customer", "logged_out", "restart requested", ""]
    return (
        Q(status=Session.Status.ERROR)
        | Q(connection_attempts__gte=settings.SESSION_PROBLEM_ATTEMPTS)
        | Q(status__in=[Session.Status.CONNECTING, Session.Status.RECONNECTING], updated_at__lt=stuck_before)
        | (Q(status=Session.Status.DISCONNECTED) & ~Q(last_disconnect_reason__in=expected))
    )


_SEND_FIELDS = {"id", "owner_id", "status", "worker_id", "generation", "phone"}


@functools.cache
def _send_lookup() -> tuple[str, tuple[str, ...]]:
    """The SQL and its columns' attnames, in model order (what ``from_db`` expects)."""
    fields = [f for f in Session._meta.concrete_fields if f.attname in _SEND_FIELDS]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = f'SELECT {columns} FROM "{Session._meta.db_table}" WHERE "id" = %s AND "owner_id" = %s'
    return sql, tuple(f.attname for f in fields)


def session_for_send(*, user: Any, session_id: str) -> Session:
    """The few fields the send path needs. The hottest query of the API, so it is
    plain SQL: the ORM spent ~0.6 ms of CPU compiling it on every send."""
    sql, attnames = _send_lookup()
    with connection.cursor() as cursor:
        cursor.execute(sql, [normalize_id(session_id), user.pk])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("No such session.")
    return Session.from_db(connection.alias, attnames, row)
