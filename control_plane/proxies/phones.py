"""Phone proxies appear, change and disappear with the workers' heartbeats."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from control_plane.fleet.models import Worker
from control_plane.proxies.models import Proxy

STATUS = {"ok": Proxy.Status.OK, "rotating": Proxy.Status.ROTATING}


def phones_from_heartbeat(*, worker: Worker, devices: list[dict[str, Any]]) -> None:
    """Upsert one proxy per reported phone with a forwarded port; phones no longer
    reported become unhealthy (their sessions follow the proxy's policy)."""
    seen = []
    for device in devices:
        serial, port = device.get("serial"), device.get("local_port")
        if not serial or not isinstance(port, int):
            continue
        seen.append(serial)
        proxy, _ = Proxy.objects.get_or_create(
            source=Proxy.Source.ADB,
            worker=worker,
            device_serial=str(serial)[:200],
            defaults={
                "host": "127.0.0.1",
                "port": port,
                "name": f"{device.get('model') or 'phone'} {serial}",
            },
        )
        _apply(proxy, device, port)
    gone = Proxy.objects.filter(source=Proxy.Source.ADB, worker=worker).exclude(device_serial__in=seen)
    for proxy in gone.exclude(status__in=[Proxy.Status.UNHEALTHY, Proxy.Status.DISABLED]):
        _set_status(proxy, Proxy.Status.UNHEALTHY, "the phone is no longer reported by its worker")


def _apply(proxy: Proxy, device: dict[str, Any], port: int) -> None:
    proxy.port = port
    proxy.device_info = {
        key: device.get(key)
        for key in (
            "state",
            "model",
            "battery_level",
            "battery_temperature",
            "signal_level",
            "warnings",
            "reason",
            "last_check_at",
        )
    }
    if device.get("public_ip"):
        proxy.public_ip = str(device["public_ip"])[:64]
        checked = device.get("last_check_at")
        proxy.ip_checked_at = parse_datetime(checked) if isinstance(checked, str) else timezone.now()
    proxy.save()
    if proxy.status != Proxy.Status.DISABLED:
        wanted = STATUS.get(str(device.get("status")), Proxy.Status.UNHEALTHY)
        _set_status(proxy, wanted, str(device.get("reason") or device.get("status") or "")[:300])


def _set_status(proxy: Proxy, status: str, reason: str) -> None:
    if proxy.status == status:
        return
    proxy.status, proxy.status_reason = status, reason
    proxy.failures = proxy.failures + 1 if status == Proxy.Status.UNHEALTHY else 0
    proxy.save(update_fields=["status", "status_reason", "failures", "updated_at"])
    if status == Proxy.Status.UNHEALTHY:
        from control_plane.proxies.services import proxy_apply_policy

        proxy_apply_policy(proxy=proxy)
