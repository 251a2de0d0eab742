"""Presentation only: how statuses read to a customer."""

from __future__ import annotations

from django import template

register = template.Library()

STATUS_LABELS = {
    "disconnected": "Disconnected",
    "connecting": "Starting",
    "qr_ready": "Waiting for scan",
    "connected": "Connected",
    "reconnecting": "Reconnecting",
    "error": "Error",
    "inactive": "Inactive",
    # workers
    "online": "Online",
    "draining": "Draining",
    "unhealthy": "Unhealthy",
    "offline": "Offline",
}

STATUS_HINTS = {
    "disconnected": "Not running. Connect it to show a QR code (or to restore a linked phone).",
    "connecting": "A browser is starting for this instance; the QR code follows in a few seconds.",
    "qr_ready": "Scan the QR code with WhatsApp on your phone. It refreshes by itself.",
    "connected": "Linked and running: it sends and receives messages.",
    "reconnecting": "Moving to another worker from its saved link; no new scan is needed.",
    "error": "It stopped after repeated failures. Restart it, or connect it again.",
    "inactive": "Cleaned up after a long time unused. Connect it to use it again.",
}

TONES = {
    "connected": "ok",
    "online": "ok",
    "qr_ready": "wait",
    "connecting": "wait",
    "reconnecting": "wait",
    "draining": "wait",
    "error": "bad",
    "unhealthy": "bad",
    "offline": "off",
    "disconnected": "off",
    "inactive": "off",
}


@register.filter
def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, str(status).replace("_", " ").capitalize())


@register.filter
def status_hint(status: str) -> str:
    return STATUS_HINTS.get(status, "")


@register.filter
def status_tone(status: str) -> str:
    return TONES.get(status, "off")


@register.filter
def percent(part: float | int | None, whole: float | int | None) -> int:
    """0-100 for meters; 0 when the whole is unknown."""
    if not whole or part is None:
        return 0
    return max(0, min(100, round(100 * part / whole)))


MESSAGE_STATUSES = {
    "queued": "queued",
    "dispatched": "handed to the worker",
    "sent": "sent ✓",
    "delivered": "delivered ✓✓",
    "read": "read ✓✓",
    "failed": "failed",
    "received": "received",
}


@register.filter
def message_status(status: str) -> str:
    return MESSAGE_STATUSES.get(status, status)
