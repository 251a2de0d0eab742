"""Celery tasks of sessions."""

from celery import shared_task

from control_plane.sessions.failover import sessions_retry_waiting


@shared_task(name="sessions.retry_waiting", ignore_result=True)
def retry_waiting() -> int:
    """Beat task: sessions that lost their worker and found no other try again."""
    return sessions_retry_waiting()
