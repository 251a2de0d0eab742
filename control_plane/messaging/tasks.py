"""Celery tasks of messaging."""

from celery import shared_task

from control_plane.messaging.dispatch import messages_sweep


@shared_task(name="messaging.sweep", ignore_result=True)
def sweep() -> int:
    """Beat task: messages left queued (or dispatched to an old route) are handed over again."""
    return messages_sweep()
