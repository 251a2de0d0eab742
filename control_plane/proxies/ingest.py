"""Applying proxy events from workers (called by the ingester)."""

from __future__ import annotations

from django.utils import timezone

from control_plane.proxies.models import Proxy
from shared.envelope import Envelope
from shared.events import ProxyRotated, ProxyRotationFailed


def _proxy(envelope: Envelope, proxy_id: str | None, serial: str) -> Proxy | None:
    proxies = Proxy.objects.select_for_update(no_key=True).filter(source=Proxy.Source.ADB)
    if proxy_id:
        return proxies.filter(pk=proxy_id).first()
    return proxies.filter(worker_id=envelope.source, device_serial=serial).first()


def on_rotated(envelope: Envelope, event: ProxyRotated) -> None:
    proxy = _proxy(envelope, event.proxy_id, event.device_serial)
    if proxy is None:
        return
    now = timezone.now()
    proxy.public_ip, proxy.ip_checked_at, proxy.last_rotated_at = event.new_ip, now, now
    proxy.failures = 0
    if proxy.status != Proxy.Status.DISABLED:
        proxy.status, proxy.status_reason = (
            Proxy.Status.OK,
            f"rotated {event.old_ip or '?'} -> {event.new_ip}",
        )
    proxy.save()


def on_rotation_failed(envelope: Envelope, event: ProxyRotationFailed) -> None:
    proxy = _proxy(envelope, event.proxy_id, event.device_serial)
    if proxy is None:
        return
    proxy.failures += 1
    if proxy.status == Proxy.Status.ROTATING:
        # The phone still works with its old IP unless the next heartbeat says otherwise.
        proxy.status = Proxy.Status.OK
    proxy.status_reason = f"rotation failed: {event.reason}"[:300]
    proxy.save()
