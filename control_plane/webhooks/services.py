"""Writes for webhooks: subscriptions, the outbox of deliveries, redelivery."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from control_plane.core.batch_scope import memoized
from control_plane.core.errors import NotFound, ValidationFailed
from control_plane.core.outbound import check_url
from control_plane.core.secretbox import seal
from control_plane.webhooks.models import EVENTS, Delivery, Webhook


@transaction.atomic
def webhook_create(
    *, user: Any, url: str, events: list[str], session_id: str | None = None, secret: str | None = None
) -> tuple[Webhook, str]:
    """Subscribe ``url`` to ``events`` (all sessions, or one). Returns the webhook and
    its signing secret, which is shown only now."""
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise ValidationFailed(
            f"Unknown or missing events {unknown}; choose from {', '.join(EVENTS)}.",
            details={"fields": {"events": [f"choose from {', '.join(EVENTS)}"]}},
        )
    if secret is not None and len(secret) < 16:
        raise ValidationFailed(
            "A webhook secret needs at least 16 characters.",
            details={"fields": {"secret": ["at least 16 characters"]}},
        )
    check_url(url)
    session = None
    if session_id:
        from control_plane.sessions.selectors import session_get

        session = session_get(user=user, session_id=session_id)
    secret = secret or f"whsec_{secrets.token_urlsafe(32)}"
    webhook = Webhook.objects.create(
        owner=user, session=session, url=url, events=sorted(set(events)), secret_encrypted=seal(secret)
    )
    return webhook, secret


@transaction.atomic
def webhook_delete(*, user: Any, webhook_id: str) -> None:
    deleted, _ = Webhook.objects.filter(pk=webhook_id, owner=user).delete()
    if not deleted:
        raise NotFound("No such webhook.")


def webhooks_emit(*, owner_id: str, session_id: str, event: str, data: dict[str, Any]) -> list[str]:
    """Queue ``event`` for every matching webhook, in the caller's transaction (an
    outbox: the deliveries exist exactly when the change they announce committed).
    The Celery tasks that POST them are enqueued after commit."""
    # A customer has a handful of webhooks: filtering events in Python keeps this
    # portable (SQLite has no JSON containment lookup).
    # Read per customer, not per session: one read serves a batch's events of all
    # the customer's sessions.
    candidates = memoized(
        ("webhooks", owner_id), lambda: list(Webhook.objects.filter(owner_id=owner_id, is_active=True))
    )
    hooks = [hook for hook in candidates if hook.session_id in (None, session_id) and event in hook.events]
    now = timezone.now()
    ids = []
    for hook in hooks:
        delivery = Delivery(webhook=hook, event=event, session_id=session_id, next_attempt_at=now)
        delivery.payload = {
            "id": delivery.id,
            "event": event,
            "session": session_id,
            "created_at": now.isoformat(),
            "data": data,
        }
        delivery.save()
        ids.append(delivery.id)
    if ids:
        transaction.on_commit(lambda: _enqueue(ids), robust=True)  # the sweeper enqueues what failed
    return ids


def _enqueue(delivery_ids: list[str]) -> None:
    from control_plane.webhooks.tasks import deliver

    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)


@transaction.atomic
def delivery_redeliver(*, user: Any, webhook_id: str, delivery_id: str) -> Delivery:
    """Send a delivery again (same delivery id, attempts continue)."""
    delivery = (
        Delivery.objects.select_for_update(no_key=True)
        .filter(pk=delivery_id, webhook_id=webhook_id, webhook__owner=user)
        .first()
    )
    if delivery is None:
        raise NotFound("No such delivery.")
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    transaction.on_commit(lambda: _enqueue([delivery.id]))
    return delivery


def deliveries_sweep(*, lost_after: timedelta = timedelta(seconds=60)) -> int:
    """Re-enqueue pending deliveries whose task never ran (broker restart, lost task)."""
    due = Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lt=timezone.now() - lost_after
    ).values_list("id", flat=True)
    ids = list(due[:500])
    _enqueue(ids)
    return len(ids)
