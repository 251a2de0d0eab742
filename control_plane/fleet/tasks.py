"""Celery tasks of the fleet."""

from celery import shared_task

from control_plane.fleet.monitor import fleet_health_check


@shared_task(name="fleet.health_monitor", ignore_result=True)
def health_monitor() -> int:
    """Beat task: one pass of the health monitor; returns how many workers changed."""
    return sum(1 for result in fleet_health_check() if result["action"] != "none")
