"""Celery tasks of proxies."""

from celery import shared_task

from control_plane.proxies.checks import proxies_check_static
from control_plane.proxies.services import proxies_rotate_due


@shared_task(name="proxies.rotate_due", ignore_result=True)
def rotate_due() -> int:
    """Beat task: phones whose rotation interval elapsed rotate (when idle)."""
    return len(proxies_rotate_due())


@shared_task(name="proxies.check_static", ignore_result=True)
def check_static() -> int:
    """Beat task: every static proxy is checked through itself."""
    return proxies_check_static()
