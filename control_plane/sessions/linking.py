"""Linking a session to a phone: the current QR, and pairing codes asked of the worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from control_plane.core import transport
from control_plane.core.errors import Conflict, ValidationFailed, WorkerUnavailable
from control_plane.sessions.models import Session
from control_plane.sessions.qr import qr_data_uri, qr_png
from control_plane.sessions.selectors import session_get
from shared.commands import RequestPairingCode
from shared.ids import normalize_phone

PAIRING_CODE_LIFETIME = timedelta(minutes=3)


def _current_qr(session: Session) -> str:
    if session.status != Session.Status.QR_READY or not session.qr:
        raise Conflict(
            f"The session is {session.status}, not waiting for a scan.", details={"status": session.status}
        )
    return session.qr


def qr_answer(*, session: Session) -> dict[str, Any]:
    qr = _current_qr(session)
    return {
        "qr": qr,
        "image": qr_data_uri(qr),
        "expires_at": session.qr_expires_at,
        "attempt": session.qr_attempt,
    }


def qr_image(*, session: Session) -> bytes:
    return qr_png(_current_qr(session))


def pairing_code_request(*, user: Any, session_id: str, phone: str) -> dict[str, Any]:
    """Ask the session's worker for a code to type on the phone (request/reply)."""
    try:
        digits = normalize_phone(phone)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"fields": {"phone": [str(exc)]}}) from exc
    session = session_get(user=user, session_id=session_id)
    if session.status not in (Session.Status.CONNECTING, Session.Status.QR_READY) or not session.worker_id:
        raise Conflict(
            f"The session is {session.status}; connect it first, then ask for a code.",
            details={"status": session.status},
        )
    command = RequestPairingCode(session_id=session.id, generation=session.generation, phone=digits)
    envelope = transport.send_command(worker_id=session.worker_id, command=command, reply=True)
    result = transport.await_reply(envelope=envelope, timeout=settings.PAIRING_CODE_WAIT)
    if not result.ok:
        raise WorkerUnavailable(
            f"The worker could not get a pairing code: {result.reason}", details={"worker_code": result.code}
        )
    expires = result.data.get("expires_at")
    return {
        "code": result.data["code"],
        "expires_at": parse_datetime(expires)
        if isinstance(expires, str)
        else timezone.now() + PAIRING_CODE_LIFETIME,
    }
