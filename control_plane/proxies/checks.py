"""Health of static proxies, checked for real: a request through the proxy to an
IP-echo URL must answer with an address (an open port alone proves nothing)."""

from __future__ import annotations

import ipaddress

import httpx
from django.conf import settings
from django.utils import timezone

from control_plane.core.secretbox import unseal
from control_plane.proxies.models import Proxy

FAILURES_BEFORE_UNHEALTHY = 3


def _public_ip(proxy: Proxy) -> str:
    auth = (proxy.username, unseal(proxy.password_encrypted)) if proxy.password_encrypted else None
    via = httpx.Proxy(proxy.server, auth=auth) if auth else proxy.server
    with httpx.Client(proxy=via, timeout=settings.PROXY_CHECK_TIMEOUT) as client:
        answer = client.get(settings.PROXY_CHECK_URL).text.strip()
    return str(ipaddress.ip_address(answer))


def proxy_check(*, proxy: Proxy) -> Proxy:
    from control_plane.proxies.phones import _set_status

    try:
        ip = _public_ip(proxy)
    except (httpx.HTTPError, ValueError) as exc:
        proxy.failures += 1
        proxy.save(update_fields=["failures", "updated_at"])
        if proxy.failures >= FAILURES_BEFORE_UNHEALTHY and proxy.status == Proxy.Status.OK:
            proxy.failures -= 1  # _set_status counts this failure
            _set_status(proxy, Proxy.Status.UNHEALTHY, f"check failed: {type(exc).__name__}: {exc}"[:300])
        return proxy
    proxy.public_ip, proxy.ip_checked_at, proxy.failures = ip, timezone.now(), 0
    proxy.save(update_fields=["public_ip", "ip_checked_at", "failures", "updated_at"])
    if proxy.status == Proxy.Status.UNHEALTHY:
        _set_status(proxy, Proxy.Status.OK, "check passed again")
    return proxy


def proxies_check_static() -> int:
    checked = 0
    for proxy in Proxy.objects.filter(source=Proxy.Source.STATIC).exclude(status=Proxy.Status.DISABLED):
        proxy_check(proxy=proxy)
        checked += 1
    return checked
