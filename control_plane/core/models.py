"""Bookkeeping shared by every app."""

from django.db import models


class ProcessedEvent(models.Model):
    """One row per worker event the ingester applied: its envelope id makes
    applying an event a second time (redelivery, restart) a no-op."""

    id = models.CharField(primary_key=True, max_length=64)
    type = models.CharField(max_length=60)
    source = models.CharField(max_length=100, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True, db_index=True)
