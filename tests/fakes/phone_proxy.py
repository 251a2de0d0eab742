"""A real, small HTTP/1.1 forward proxy standing in for a phone's proxy app.

It is what a client reaches through ``adb forward`` in the fake ADB server, and
it is usable on its own as a plain local proxy (``await proxy.start()``).

What it does, per client connection:

* while the phone is *offline* (airplane mode, mobile data off, proxy app
  stopped, or :meth:`PhoneProxy.set_online` ``False``) it closes the
  connection at once, as a real forward to a dead app does;
* a request for an *echo host* (``ip-echo.test`` by default, absolute-URI
  ``GET http://ip-echo.test/`` or ``CONNECT ip-echo.test:80`` then a plain
  request inside the tunnel) is answered ``200`` with the current public IP
  as the body, like api.ipify.org;
* ``CONNECT host:port`` to a loopback target is tunnelled byte for byte
  (TLS, websockets, anything);
* absolute-URI requests (``GET http://127.0.0.1:8000/x``) are forwarded to
  the loopback target, one request per client connection (the response is
  rewritten to ``Connection: close``; ``Upgrade`` requests are left alone);
* ``aliases`` maps a host name to a loopback address (``"wa.test":
  "127.0.0.1"`` or ``"wa.test": "127.0.0.1:8123"``), so a browser can use a
  name it would not bypass the proxy for;
* anything that is not loopback is refused with ``502``: this fake never
  reaches the network.

Counters for assertions: ``forwarded`` (a Counter of target host name per
forwarded request or tunnel), ``echo_count``, ``refused`` and ``log``.
When the phone goes offline every live connection is aborted (the cellular
socket under it died), so clients see their tunnels break, as in a rotation.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

ECHO_HOST = "ip-echo.test"
ECHO_URL = f"http://{ECHO_HOST}/"

_HEAD_TIMEOUT = 30.0
_CONNECT_TIMEOUT = 5.0
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate"}


class ProxyRefused(Exception):
    """A request this proxy will not carry; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PhoneProxy:
    """An HTTP forward proxy whose egress "public IP" is scripted.

    ``public_ip`` is a string or a zero-argument callable (the fake phone
    passes one reading its IP pool). ``online`` is an optional predicate
    consulted for every new connection.
    """

    def __init__(
        self,
        public_ip: str | Callable[[], str] = "203.0.113.10",
        *,
        echo_hosts: tuple[str, ...] = (ECHO_HOST,),
        aliases: dict[str, str] | None = None,
        online: Callable[[], bool] | None = None,
    ) -> None:
        self._ip: str | Callable[[], str] = public_ip
        self.echo_hosts = frozenset(h.lower() for h in echo_hosts)
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}
        self._online = online
        self.enabled = True
        self.forwarded: Counter[str] = Counter()
        self.echo_count = 0
        self.refused = 0
        self.log: list[str] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None

    # ---- state -----------------------------------------------------------------
    @property
    def public_ip(self) -> str:
        return self._ip() if callable(self._ip) else self._ip

    @public_ip.setter
    def public_ip(self, value: str) -> None:
        self._ip = value

    def is_online(self) -> bool:
        return self.enabled and (self._online() if self._online else True)

    def set_online(self, online: bool) -> None:
        """Switch the egress on or off; off aborts every live connection."""
        self.enabled = online
        if not online:
            self.drop_connections()

    def drop_connections(self) -> None:
        """Abort every live client and upstream connection (thread-safe)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._abort_all()
        else:
            loop.call_soon_threadsafe(self._abort_all)

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    # ---- standalone listener -----------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (a random port by default) on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self.handle, host, port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("PhoneProxy.start() was not called")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop listening, abort live connections and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        self._abort_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> PhoneProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- serving -----------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection (a forward listener or ``tcp:`` stream)."""
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            if not self.is_online():
                self.refused += 1
                writer.transport.abort()
                return
            await self._serve_request(reader, writer)
        except (
            ConnectionError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
        ):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            await _close(writer)

    async def _serve_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        method, target, headers = _parse_head(head)
        self.log.append(f"{method} {target}")
        try:
            if method == "CONNECT":
                await self._connect(target, reader, writer)
            else:
                await self._forward(method, target, headers, head, reader, writer)
        except ProxyRefused as refused:
            self.refused += 1
            await _reply(writer, refused.status, refused.reason)

    async def _connect(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = _split_authority(target, default_port=443)
        if host in self.echo_hosts:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
            _parse_head(head)
            await self._echo(writer)
            return
        up_reader, up_writer = await self._open_upstream(host, port)
        self.forwarded[host] += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        host = (url.hostname or _header(headers, "host").partition(":")[0]).lower()
        if host in self.echo_hosts:
            await self._echo(writer)
            return
        if url.scheme != "http" or not url.hostname:
            raise ProxyRefused(400, f"not an absolute http URI: {target}")
        up_reader, up_writer = await self._open_upstream(host, url.port or 80)
        self.forwarded[host] += 1
        upgrade = bool(_header(headers, "upgrade"))
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        if upgrade:
            kept += [(k, v) for k, v in headers if k.lower() == "connection"]
        else:
            kept.append(("Connection", "close"))
        up_writer.write(_build_head(f"{method} {path} HTTP/1.1", kept))
        await up_writer.drain()
        relay = asyncio.create_task(_relay_response(up_reader, writer, rewrite=not upgrade))
        await self._pipe(reader, writer, up_reader, up_writer, response=relay)

    async def _echo(self, writer: asyncio.StreamWriter) -> None:
        self.echo_count += 1
        await _reply(writer, 200, self.public_ip, content_type="text/plain")

    async def _open_upstream(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        address = self._resolve(host, port)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(address[0], address[1]), _CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise ProxyRefused(502, f"cannot reach {host}:{port}: {exc}") from exc
        self._writers.add(up_writer)
        return up_reader, up_writer

    def _resolve(self, host: str, port: int) -> tuple[str, int]:
        alias = self.aliases.get(host)
        if alias is not None:
            a_host, _, a_port = alias.partition(":")
            return a_host, int(a_port) if a_port else port
        if host == "localhost":
            return "127.0.0.1", port
        try:
            if ipaddress.ip_address(host).is_loopback:
                return host, port
        except ValueError:
            pass
        raise ProxyRefused(502, f"fake phone proxy reaches loopback only, not {host}")

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        *,
        response: asyncio.Task[None] | None = None,
    ) -> None:
        """Copy both ways until the upstream side is done, then close both."""
        upstream = asyncio.create_task(_copy(reader, up_writer, eof=True))
        downstream = response or asyncio.create_task(_copy(up_reader, writer))
        try:
            await downstream
        finally:
            upstream.cancel()
            await asyncio.gather(upstream, return_exceptions=True)
            if not downstream.done():
                downstream.cancel()
                await asyncio.gather(downstream, return_exceptions=True)
            self._writers.discard(up_writer)
            await _close(up_writer)


async def _relay_response(
    up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, rewrite: bool
) -> None:
    """Pass the upstream response on, forcing ``Connection: close`` on its head."""
    if rewrite:
        head = await up_reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0]
        if " 101 " not in f"{status_line} ":
            headers = [_split_header(line) for line in lines[1:] if line]
            kept = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
            kept.append(("Connection", "close"))
            head = _build_head(status_line, kept)
        writer.write(head)
    await _copy(up_reader, writer)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, eof: bool = False) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if eof and writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


def _parse_head(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ConnectionError(f"bad request line {lines[0]!r}")
    headers = [_split_header(line) for line in lines[1:] if line]
    return parts[0].upper(), parts[1], headers


def _split_header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _split_authority(target: str, *, default_port: int) -> tuple[str, int]:
    url = urlsplit(f"//{target}")
    if not url.hostname:
        raise ProxyRefused(400, f"bad CONNECT target {target!r}")
    return url.hostname.lower(), url.port or default_port


def _build_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first_line, *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _reply(
    writer: asyncio.StreamWriter, status: int, body: str, content_type: str = "text/plain"
) -> None:
    reasons = {200: "OK", 400: "Bad Request", 502: "Bad Gateway"}
    data = body.encode()
    head = _build_head(
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}",
        [("Content-Type", content_type), ("Content-Length", str(len(data))), ("Connection", "close")],
    )
    writer.write(head + data)
    await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
