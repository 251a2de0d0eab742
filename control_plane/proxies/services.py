"""Writes for proxies: the static pool, phones reported by workers, assignment
to sessions, rotation, and what happens when a proxy turns unhealthy."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from control_plane.core import transport
from control_plane.core.errors import Conflict, NotFound, ValidationFailed, WorkerUnavailable
from control_plane.core.secretbox import seal, unseal
from control_plane.fleet.models import Worker
from control_plane.proxies.models import Proxy
from shared.commands import RotateProxy
from shared.types import ProxySpec

log = logging.getLogger(__name__)
USABLE = [Proxy.Status.OK, Proxy.Status.ROTATING]


@transaction.atomic
def proxy_create(
    *,
    host: str,
    port: int,
    kind: str = "http",
    name: str = "",
    username: str = "",
    password: str = "",
    owner: Any = None,
    rotation_interval_minutes: int | None = None,
    on_unhealthy: str = Proxy.OnUnhealthy.STAY,
) -> Proxy:
    """Add a static proxy to the pool (credentials encrypted at rest)."""
    if kind == Proxy.Kind.SOCKS5 and (username or password):
        raise ValidationFailed(
            "Chromium cannot authenticate to a SOCKS5 proxy; use an HTTP proxy with "
            "credentials, or SOCKS5 without.",
            details={"fields": {"kind": ["socks5 + auth"]}},
        )
    return Proxy.objects.create(
        host=host,
        port=port,
        kind=kind,
        name=name,
        username=username,
        password_encrypted=seal(password) if password else "",
        owner=owner,
        rotation_interval_minutes=rotation_interval_minutes,
        on_unhealthy=on_unhealthy,
    )


@transaction.atomic
def proxy_update(*, proxy: Proxy, **fields: Any) -> Proxy:
    """Operators change name, owner, policy, rotation interval, or disable/enable."""
    status = fields.pop("status", None)
    for name, value in fields.items():
        setattr(proxy, name, value)
    if status is not None and status != proxy.status:
        if status not in (Proxy.Status.OK, Proxy.Status.DISABLED):
            raise ValidationFailed("status can be set to ok or disabled.")
        proxy.status, proxy.status_reason = status, f"set to {status} by an operator"
    proxy.save()
    if proxy.status == Proxy.Status.DISABLED:
        proxy_apply_policy(proxy=proxy)
    return proxy


@transaction.atomic
def proxy_delete(*, proxy: Proxy) -> None:
    in_use = proxy.sessions.count()
    if in_use:
        raise Conflict(
            f"{in_use} session(s) use this proxy; disable it or move them first.",
            details={"sessions": in_use},
        )
    proxy.delete()


def proxy_spec(proxy: Proxy) -> ProxySpec:
    """What the worker needs to launch Chromium through ``proxy`` (credentials included)."""
    return ProxySpec(
        server=proxy.server,
        username=proxy.username or None,
        password=unseal(proxy.password_encrypted) if proxy.password_encrypted else None,
        proxy_id=proxy.id,
    )


def _pool(user: Any) -> Any:
    return (
        Proxy.objects.filter(source=Proxy.Source.STATIC, status=Proxy.Status.OK)
        .filter(Q(owner__isnull=True) | Q(owner=user))
        .annotate(load=Count("sessions"))
        .order_by("load", "created_at")
    )


def proxy_resolve_choice(*, user: Any, choice: str | None) -> Proxy | None:
    """A customer's ``proxy`` field: None (direct), "pool", or a proxy id they may use."""
    if not choice:
        return None
    if choice == "pool":
        proxy = _pool(user).first()
        if proxy is None:
            raise Conflict("No proxy of the pool is available.", details={"proxy": "pool"})
        return proxy
    proxy = Proxy.objects.filter(pk=choice).filter(Q(owner__isnull=True) | Q(owner=user)).first()
    if proxy is None or proxy.status == Proxy.Status.DISABLED:
        raise ValidationFailed("No such proxy.", details={"fields": {"proxy": ["unknown proxy"]}})
    return proxy


def proxy_for_start(*, session: Any) -> tuple[ProxySpec | None, str | None]:
    """The proxy a (re)starting session uses, and the worker it must run on (phones).

    Sticky: the session's proxy, unless it is unusable and its policy says to move.
    A session never silently falls back to a direct connection.
    """
    proxy = session.proxy
    if proxy is None:
        return None, None
    if not _usable(proxy):
        if proxy.on_unhealthy == Proxy.OnUnhealthy.STAY and proxy.status != Proxy.Status.DISABLED:
            if proxy.source == Proxy.Source.STATIC:
                return proxy_spec(proxy), None  # it keeps its proxy and reconnects when it heals
            raise WorkerUnavailable(f"The session's phone proxy is {proxy.status}; it waits for the phone.")
        replacement = _pool(session.owner).exclude(pk=proxy.pk).first()
        if replacement is None:
            raise WorkerUnavailable(f"The session's proxy is {proxy.status} and no pool proxy is free.")
        log.info(
            "session %s moves from proxy %s to %s (%s)",
            session.id,
            proxy.id,
            replacement.id,
            proxy.on_unhealthy,
        )
        session.proxy = proxy = replacement
        session.save(update_fields=["proxy", "updated_at"])
    return proxy_spec(proxy), (proxy.worker_id if proxy.source == Proxy.Source.ADB else None)


def _usable(proxy: Proxy) -> bool:
    if proxy.status not in USABLE:
        return False
    if proxy.source == Proxy.Source.ADB:
        return bool(proxy.worker_id) and proxy.worker.status == Worker.Status.ONLINE
    return True


def proxy_apply_policy(*, proxy: Proxy) -> list[str]:
    """A proxy became unusable: with ``reassign_now`` its live sessions restart on a
    healthy pool proxy now; ``reassign`` waits for their next (re)connect; ``stay``
    does nothing. Returns the sessions restarted."""
    if proxy.on_unhealthy != Proxy.OnUnhealthy.REASSIGN_NOW:
        return []
    from control_plane.sessions.failover import session_move
    from control_plane.sessions.models import Session

    moved = []
    live = [Session.Status.CONNECTED, Session.Status.CONNECTING, Session.Status.QR_READY]
    for session_id in proxy.sessions.filter(status__in=live).values_list("id", flat=True):
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(no_key=True).filter(pk=session_id, proxy=proxy).first()
            )
            if session is not None:
                session_move(
                    session=session,
                    reason=f"proxy {proxy.id} is {proxy.status}",
                    status=Session.Status.RECONNECTING,
                    avoid_current=False,
                )
                moved.append(session_id)
    return moved


@transaction.atomic
def proxy_rotate(*, proxy: Proxy) -> Proxy:
    """Ask the phone's worker to change the public IP (answered by a proxy event)."""
    if proxy.source != Proxy.Source.ADB or not proxy.worker_id:
        raise Conflict("Only phone proxies can rotate their IP.")
    if proxy.status == Proxy.Status.DISABLED:
        raise Conflict("The proxy is disabled.")
    if proxy.status == Proxy.Status.ROTATING:
        return proxy
    proxy.status, proxy.status_reason = Proxy.Status.ROTATING, "rotation requested"
    proxy.save(update_fields=["status", "status_reason", "updated_at"])
    command = RotateProxy(proxy_id=proxy.id, device_serial=proxy.device_serial)
    worker_id = proxy.worker_id
    transaction.on_commit(lambda: transport.send_command(worker_id=worker_id, command=command))
    return proxy


def proxies_rotate_due() -> list[str]:
    """Policy rotation: phones whose interval elapsed, and none of whose sessions is
    sending right now (an outgoing message not yet confirmed)."""
    from control_plane.messaging.models import Message

    now = timezone.now()
    rotated = []
    for proxy in Proxy.objects.filter(
        source=Proxy.Source.ADB, status=Proxy.Status.OK, rotation_interval_minutes__isnull=False
    ):
        last = proxy.last_rotated_at or proxy.created_at
        if (now - last).total_seconds() < proxy.rotation_interval_minutes * 60:
            continue
        busy = Message.objects.filter(
            session__proxy=proxy, direction="out", status__in=["queued", "dispatched"]
        ).exists()
        if not busy:
            proxy_rotate(proxy=proxy)
            rotated.append(proxy.id)
    return rotated


def proxy_get(*, proxy_id: str) -> Proxy:
    proxy = Proxy.objects.select_related("worker").filter(pk=proxy_id).first()
    if proxy is None:
        raise NotFound("No such proxy.")
    return proxy
