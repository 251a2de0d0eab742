"""Requests to customer-chosen URLs (webhooks, media), guarded against SSRF.

A URL is resolved once; every address it resolves to must be public (not
private, loopback, link-local, multicast, reserved) unless
``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` is on. The request then goes to the
checked address itself (Host header and TLS SNI keep the name), so a DNS
answer that changes between the check and the connection cannot redirect it.
Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

from control_plane.core.errors import ValidationFailed


class UnsafeTarget(ValidationFailed):
    """The URL points somewhere this server must not call."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, *, field: str = "url") -> Target:
    """Parse, resolve and vet ``url``; raises :class:`UnsafeTarget` (a 400) when refused."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port  # raises for a port that is not a number in range
    except ValueError as exc:  # e.g. "http://[::1" or "http://host:99999"
        raise UnsafeTarget(
            f"The URL cannot be parsed: {exc}.", details={"fields": {field: ["not a valid URL"]}}
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(
            "Only http:// and https:// URLs with a host are accepted.",
            details={"fields": {field: ["must be an http(s) URL"]}},
        )
    if parts.username or parts.password:
        raise UnsafeTarget(
            "Credentials inside the URL are not accepted.",
            details={"fields": {field: ["no user:password@ in the URL"]}},
        )
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(
            f"The host {parts.hostname!r} does not resolve.",
            details={"fields": {field: ["host does not resolve"]}},
        ) from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS and any(_blocked(a) for a in addresses):
        raise UnsafeTarget(
            "Private, loopback and link-local addresses are not allowed as targets.",
            details={"fields": {field: ["resolves to a non-public address"]}},
        )
    return Target(url=url, scheme=parts.scheme, host=parts.hostname, port=port, address=str(addresses[0]))


def pinned_url(target: Target) -> str:
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


def request(client: httpx.Client, method: str, target: Target, **kwargs: object) -> httpx.Response:
    """Send to the vetted address, keeping the name for Host and TLS."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    headers["Host"] = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return client.request(
        method, pinned_url(target), headers=headers, extensions=extensions, follow_redirects=False, **kwargs
    )  # type: ignore[arg-type]
