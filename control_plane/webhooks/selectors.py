"""Reads for webhooks (always scoped to the owner)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from control_plane.core.errors import NotFound
from control_plane.webhooks.models import Delivery, Webhook


def webhook_list(*, user: Any) -> QuerySet[Webhook]:
    return Webhook.objects.filter(owner=user)


def webhook_get(*, user: Any, webhook_id: str) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id, owner=user).first()
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook


def delivery_list(*, user: Any, webhook_id: str) -> QuerySet[Delivery]:
    return webhook_get(user=user, webhook_id=webhook_id).deliveries.prefetch_related("attempt_log")
