"""wagate control plane: Django + DRF + Channels, Celery for jobs."""

from control_plane.config.celery import app as celery_app

__all__ = ["celery_app"]
