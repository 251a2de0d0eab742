"""One delivery attempt: sign, POST to the vetted address, log, decide what next."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.core import redis as redis_client
from control_plane.core.errors import ValidationFailed
from control_plane.core.outbound import check_url, request
from control_plane.core.secretbox import unseal
from control_plane.webhooks.models import Delivery, DeliveryAttempt
from control_plane.webhooks.signing import sign

EXCERPT = 500
USER_AGENT = "wagate-webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    delivered: bool
    retry_in: float | None  # seconds until the next attempt, None when done


def _post(delivery: Delivery) -> tuple[int | None, str, str]:
    """POST the payload; returns (status code, error, body excerpt). Never raises."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Wagate-Event": delivery.event,
        "X-Wagate-Delivery": delivery.id,
        "X-Wagate-Signature": sign(secret=unseal(delivery.webhook.secret_encrypted), body=body),
    }
    try:
        target = check_url(delivery.webhook.url)
        with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT) as client:
            response = request(client, "POST", target, content=body, headers=headers)
        return response.status_code, "", response.text[:EXCERPT]
    except ValidationFailed as exc:
        return None, f"refused target: {exc.message}", ""
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], ""


def _backoff(attempt: int) -> float:
    """Exponential with 20 % jitter: base, 2*base, 4*base, ..."""
    delay = settings.WEBHOOK_RETRY_BASE * (2 ** (attempt - 1))
    return delay * random.uniform(0.8, 1.2)


def delivery_attempt(*, delivery_id: str) -> AttemptOutcome:
    """Make the next attempt of a pending delivery (one at a time per delivery)."""
    lock = redis_client.client().set(
        f"webhooks:lock:{delivery_id}", "1", nx=True, ex=int(settings.WEBHOOK_TIMEOUT) + 30
    )
    if not lock:
        return AttemptOutcome(delivered=False, retry_in=None)  # another task is on it
    try:
        delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return AttemptOutcome(
                delivered=delivery is not None and delivery.status == "succeeded", retry_in=None
            )
        started = timezone.now()
        clock = time.monotonic()
        status_code, error, excerpt = _post(delivery)
        duration_ms = int((time.monotonic() - clock) * 1000)
        return _record(delivery, started, duration_ms, status_code, error, excerpt)
    finally:
        redis_client.client().delete(f"webhooks:lock:{delivery_id}")


@transaction.atomic
def _record(
    delivery: Delivery,
    started,
    duration_ms: int,
    status_code: int | None,
    error: str,  # type: ignore[no-untyped-def]
    excerpt: str,
) -> AttemptOutcome:
    delivery = Delivery.objects.select_for_update(no_key=True).get(pk=delivery.pk)
    delivery.attempts += 1
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=started,
        duration_ms=duration_ms,
        status_code=status_code,
        error=error,
        response_excerpt=excerpt,
    )
    delivery.last_status_code, delivery.last_error = (
        status_code,
        error or ("" if status_code and 200 <= status_code < 300 else f"HTTP {status_code}"),
    )
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", timezone.now(), None
        delivery.save()
        return AttemptOutcome(delivered=True, retry_in=None)
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        delivery.save()
        return AttemptOutcome(delivered=False, retry_in=None)
    retry_in = _backoff(delivery.attempts)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
    delivery.save()
    return AttemptOutcome(delivered=False, retry_in=retry_in)
