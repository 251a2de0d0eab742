"""A lean HTTP/1.1 keep-alive client for load generation.

httpx costs ~5 ms of CPU per request here; on 2 shared cores the load generator
then takes more CPU than the server it measures. This one writes the request
bytes and reads the status line, headers and a Content-Length body: ~0.1 ms.
Only what the benchmarks send is supported (JSON POSTs, no chunked responses).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class LoadClientError(Exception):
    """The connection broke or the answer was not HTTP the client understands."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; reopened after the server closes it."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: object, headers: Mapping[str, str] = {}) -> Answer:
        payload = json.dumps(body).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        try:
            return await asyncio.wait_for(self._exchange(head.encode() + payload), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise LoadClientError(str(exc) or type(exc).__name__) from exc

    async def _exchange(self, request: bytes) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        body = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return Answer(status, body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


class Pool:
    """Up to ``size`` connections shared by any number of tasks."""

    def __init__(self, base_url: str, headers: Mapping[str, str], size: int) -> None:
        self._all = [Connection(base_url, headers) for _ in range(size)]
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        for connection in self._all:
            self._idle.put_nowait(connection)

    async def post_json(self, path: str, body: object, headers: Mapping[str, str] = {}) -> Answer:
        connection = await self._idle.get()
        try:
            return await connection.post_json(path, body, headers)
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()
