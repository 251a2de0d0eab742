"""Celery tasks of webhooks: deliveries with backoff, and the lost-task sweeper."""

from celery import shared_task

from control_plane.webhooks.delivery import delivery_attempt
from control_plane.webhooks.services import deliveries_sweep


@shared_task(name="webhooks.deliver", ignore_result=True, acks_late=True)
def deliver(delivery_id: str) -> bool:
    """One attempt; a failure schedules the next one after its backoff."""
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        deliver.apply_async(args=[delivery_id], countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep() -> int:
    """Beat task: pending deliveries whose task was lost are queued again."""
    return deliveries_sweep()
