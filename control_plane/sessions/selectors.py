"""Reads for sessions."""

from __future__ import annotations

from typing import Any

from control_plane.sessions.models import Session


def session_usage(*, user: Any) -> dict[str, Any]:
    """What a customer uses of their tier."""
    return {"sessions": Session.objects.filter(owner=user).count()}
