"""Celery tasks of sessions."""

from celery import shared_task

from control_plane.sessions.failover import sessions_retry_waiting


@shared_task(name="sessions.retry_waiting", ignore_result=True)
def retry_waiting() -> int:
    """Beat task: sessions that lost their worker and found no other try again."""
    return sessions_retry_waiting()


@shared_task(name="sessions.drain_tick", ignore_result=True)
def drain_tick() -> int:
    """Beat task: move sessions off draining workers, a few at a time."""
    from control_plane.sessions.drain import drain_tick as tick

    return tick()
