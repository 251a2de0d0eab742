"""Writes for sessions: the customer's lifecycle (create, connect, disconnect,
logout, restart, delete) and the commands they send to workers."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import transaction
from redis import RedisError

from control_plane.accounts.models import User
from control_plane.core import redis as redis_client
from control_plane.core import transport
from control_plane.core.errors import Conflict, TierLimit, ValidationFailed, WorkerTimeout, WorkerUnavailable
from control_plane.fleet.services import worker_reserve_slot
from control_plane.proxies.services import proxy_for_start, proxy_resolve_choice
from control_plane.sessions.models import Session, SessionSnapshot
from control_plane.sessions.selectors import session_get
from control_plane.sessions.services_snapshots import snapshot_delete
from control_plane.sessions.status import session_release, session_set_status
from shared.commands import DropSession, LogoutSession, StartSession, StopSession
from shared.ids import normalize_id

log = logging.getLogger(__name__)
S = Session.Status
LIVE = {S.CONNECTING, S.QR_READY, S.CONNECTED, S.RECONNECTING}


def _new_session_id(name: str) -> str:
    base = normalize_id(name)[:80] or "session"
    return f"{base}-{secrets.token_hex(3)}"


@transaction.atomic
def session_create(*, user: User, name: str, description: str = "", proxy: str | None = None) -> Session:
    """The record only (status ``disconnected``, no worker). The user row is locked
    while counting, so racing creates can never exceed the tier's limit. ``proxy``:
    None (direct), "pool", or a proxy id the customer may use; it is sticky."""
    locked = User.objects.select_for_update(of=("self",), no_key=True).select_related("tier").get(pk=user.pk)
    limit = locked.tier.max_sessions if locked.tier else 0
    if Session.objects.filter(owner=locked).count() >= limit:
        raise TierLimit(
            f"Your {locked.tier_id or 'current'} plan allows {limit} session(s); delete one or upgrade.",
            details={"limit": limit},
        )
    session = Session.objects.create(
        id=_new_session_id(name),
        owner=locked,
        name=name,
        description=description,
        proxy=proxy_resolve_choice(user=locked, choice=proxy),
    )
    session_set_status(session=session, status=S.DISCONNECTED, reason="created", previous="")
    return session


@transaction.atomic
def session_update(*, user: User, session_id: str, **fields: str | None) -> Session:
    """Name, description, and the proxy (used from the next connect or restart: a
    live session never changes egress mid-conversation)."""
    session = session_get(user=user, session_id=session_id, lock=True)
    if "proxy" in fields:
        session.proxy = proxy_resolve_choice(user=user, choice=fields.pop("proxy"))
        fields["proxy"] = session.proxy
    for name, value in fields.items():
        setattr(session, name, value)
    session.save(update_fields=[*fields, "updated_at"])
    return session


def _ensure_redis() -> None:
    """Fail with 503 before writing anything when commands cannot be queued."""
    try:
        redis_client.client().ping()
    except RedisError as exc:
        raise WorkerUnavailable("Workers cannot be reached right now (Redis is down).") from exc


def session_route(*, session: Session, status: str, reason: str, exclude: tuple[str, ...] = ()) -> None:
    """Put a session on the best worker and tell that worker to start it.

    Runs in the caller's transaction (the worker row stays locked until commit);
    the command leaves after commit so the worker never sees an uncommitted route.
    """
    proxy, only_worker = proxy_for_start(session=session)
    worker = worker_reserve_slot(exclude=exclude, only=only_worker)
    session.worker = worker
    session.generation += 1
    session.connection_attempts += 1
    session.qr, session.qr_attempt, session.qr_expires_at = "", 0, None
    session_set_status(session=session, status=status, reason=reason)
    command = StartSession(
        session_id=session.id,
        generation=session.generation,
        restore=SessionSnapshot.objects.filter(session=session).exists(),
        qr_max=settings.QR_MAX_CODES,
        proxy=proxy,
    )
    worker_id, generation, session_id = worker.id, session.generation, session.id

    def dispatch() -> None:
        transport.route_set(session_id=session_id, worker_id=worker_id, generation=generation)
        transport.send_command(worker_id=worker_id, command=command)

    transaction.on_commit(dispatch)


@transaction.atomic
def session_connect(*, user: User, session_id: str) -> Session:
    """Phase 2: choose a worker (fleet scoring), route, start. 409 when already live."""
    session = session_get(user=user, session_id=session_id, lock=True)
    if session.status == S.CONNECTED:
        raise Conflict("The session is already connected.")
    if session.status in LIVE and session.worker_id:
        raise Conflict(f"The session is already {session.status} on a worker.")
    _ensure_redis()
    session_route(session=session, status=S.CONNECTING, reason="connect requested")
    return session


def _ask_worker(session: Session, command: StopSession | LogoutSession, wait: float) -> bool:
    """Send a stop/logout to the session's worker and wait for it; False on timeout."""
    try:
        envelope = transport.send_command(worker_id=session.worker_id, command=command, reply=True)
        return transport.await_reply(envelope=envelope, timeout=wait).ok
    except (WorkerTimeout, WorkerUnavailable) as exc:
        log.warning(
            "worker %s did not confirm %s of %s: %s", session.worker_id, command.TYPE, session.id, exc
        )
        return False


def _stop_on_worker(session: Session, *, logout: bool) -> bool:
    if not session.worker_id:
        return False
    if logout:
        command = LogoutSession(session_id=session.id, generation=session.generation)
    else:
        command = StopSession(
            session_id=session.id,
            generation=session.generation,
            snapshot=True,
            reason="stopped by the customer",
        )
    return _ask_worker(session, command, settings.WORKER_STOP_WAIT)


def _finish_stop(*, user: User, session_id: str, reason: str, logout: bool) -> Session:
    with transaction.atomic():
        session = session_get(user=user, session_id=session_id, lock=True)
        old_worker = session.worker_id
        if session.worker_id:
            session_release(session=session)
            # If the worker never confirmed, make sure it lets go once it reads its stream.
            fence = DropSession(session_id=session.id, generation=session.generation)
            transaction.on_commit(lambda: _send_quietly(old_worker, fence))
        fields = {"phone": "", "platform": "", "pushname": ""} if logout else {}
        if logout:
            snapshot_delete(session=session)
        session_set_status(session=session, status=S.DISCONNECTED, reason=reason, **fields)
    return session


def _send_quietly(worker_id: str, command: DropSession) -> None:
    try:
        transport.send_command(worker_id=worker_id, command=command)
    except WorkerUnavailable:
        log.warning("could not fence %s off worker %s", command.session_id, worker_id)


def session_disconnect(*, user: User, session_id: str) -> tuple[Session, bool]:
    """Stop the session and keep its credentials; the worker snapshots it first.
    Returns the session and whether the worker confirmed the stop."""
    session = session_get(user=user, session_id=session_id)
    if session.status == S.DISCONNECTED and not session.worker_id:
        raise Conflict("The session is already disconnected.")
    confirmed = _stop_on_worker(session, logout=False)
    session = _finish_stop(user=user, session_id=session.id, reason="stopped by the customer", logout=False)
    return session, confirmed


def session_logout(*, user: User, session_id: str) -> tuple[Session, bool]:
    """Unlink the WhatsApp account and drop every stored credential."""
    session = session_get(user=user, session_id=session_id)
    confirmed = _stop_on_worker(session, logout=True)
    session = _finish_stop(user=user, session_id=session.id, reason="logged_out", logout=True)
    return session, confirmed


def session_restart(*, user: User, session_id: str) -> Session:
    """Stop (with a fresh snapshot) and connect again, possibly on another worker."""
    session = session_get(user=user, session_id=session_id)
    if session.worker_id:
        _stop_on_worker(session, logout=False)
        _finish_stop(user=user, session_id=session.id, reason="restart requested", logout=False)
    with transaction.atomic():
        session = session_get(user=user, session_id=session_id, lock=True)
        _ensure_redis()
        session_route(session=session, status=S.CONNECTING, reason="restart requested")
    return session


def session_delete(*, user: User, session_id: str) -> None:
    """Unlink it if live, then remove the record, its credentials and its snapshot."""
    session = session_get(user=user, session_id=session_id)
    if session.worker_id:
        _stop_on_worker(session, logout=True)
    with transaction.atomic():
        session = session_get(user=user, session_id=session_id, deleting=True)
        if session.worker_id:
            fence = DropSession(session_id=session.id, generation=session.generation + 1)
            worker_id = session.worker_id
            transaction.on_commit(lambda: _send_quietly(worker_id, fence))
            transaction.on_commit(lambda: transport.route_clear(session_id=fence.session_id))
        snapshot_delete(session=session)
        session.delete()


@transaction.atomic
def session_reset_attempts(*, user: User, session_id: str) -> Session:
    session = session_get(user=user, session_id=session_id, lock=True)
    session.connection_attempts = 0
    session.save(update_fields=["connection_attempts", "updated_at"])
    return session


def validate_name(name: str) -> str:
    name = name.strip()
    if not normalize_id(name):
        raise ValidationFailed(
            "A session name needs at least one letter or digit.",
            details={"fields": {"name": ["needs a letter or digit"]}},
        )
    return name
