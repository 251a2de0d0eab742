"""The fake ADB server's forwards: each one a real loopback listener.

``forward:tcp:L;tcp:R`` binds ``127.0.0.1:L``; each connection to it is
served by the phone's :class:`~tests.fakes.phone_proxy.PhoneProxy` while the
phone is in state ``device``, its proxy app runs and listens on ``R``;
otherwise it is closed at once, as adb does when the phone side is dead.
Like the real server, listings cover every device, and forwards die with
their phone's transport (:meth:`ForwardTable.drop`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.fakes.adb_phone import FakePhone
from tests.fakes.adb_protocol import close_writer, fail


@dataclass
class _Forward:
    serial: str
    local: int
    remote: int
    server: asyncio.Server


class ForwardTable:
    """Forwards by local port; ``tasks`` is the server's set of live connection tasks."""

    def __init__(self, phones: dict[str, FakePhone], tasks: set[asyncio.Task[Any]]) -> None:
        self._phones = phones
        self._tasks = tasks
        self._by_port: dict[int, _Forward] = {}

    def entries(self) -> list[tuple[str, str, str]]:
        return [(f.serial, f"tcp:{f.local}", f"tcp:{f.remote}") for f in list(self._by_port.values())]

    def lines(self) -> str:
        """The ``list-forward`` payload: ``<serial> tcp:L tcp:R`` per line, all devices."""
        return "".join(f"{s} {local} {remote}\n" for s, local, remote in self.entries())

    async def add(self, serial: str, spec: str, writer: asyncio.StreamWriter) -> None:
        """Answer ``forward:[norebind:]tcp:L;tcp:R`` (``OKAY OKAY``, + the port for ``tcp:0``)."""
        norebind = spec.startswith("norebind:")
        spec = spec.removeprefix("norebind:")
        local, sep, remote = spec.partition(";")
        try:
            if not (sep and local.startswith("tcp:") and remote.startswith("tcp:")):
                raise ValueError(spec)
            lport, rport = int(local[4:]), int(remote[4:])
        except ValueError:
            return fail(writer, f"bad forward: {spec}")
        existing = self._by_port.get(lport) if lport else None
        if existing is not None and norebind:
            return fail(writer, "cannot rebind existing socket")
        if existing is not None:
            existing.serial, existing.remote = serial, rport
        else:
            try:
                server = await asyncio.start_server(self._serve, "127.0.0.1", lport)
            except OSError as exc:
                return fail(writer, f"cannot bind listener: {exc.strerror}")
            lport = server.sockets[0].getsockname()[1]
            self._by_port[lport] = _Forward(serial, lport, rport, server)
        writer.write(b"OKAYOKAY")
        if local == "tcp:0":
            writer.write(b"%04x%d" % (len(str(lport)), lport))

    def kill(self, serial: str, command: str, writer: asyncio.StreamWriter) -> None:
        """Answer ``killforward:tcp:L`` or ``killforward-all``."""
        if command == "killforward-all":
            self.drop(serial)
            writer.write(b"OKAYOKAY")
            return
        local = command[len("killforward:") :]
        port = int(local[4:]) if local.startswith("tcp:") and local[4:].isdigit() else -1
        forward = self._by_port.pop(port, None)
        if forward is None:
            return fail(writer, f"listener '{local}' not found")
        forward.server.close()
        writer.write(b"OKAYOKAY")

    def drop(self, serial: str) -> None:
        """Erase a phone's forwards (its transport went away)."""
        for local, forward in list(self._by_port.items()):
            if forward.serial == serial:
                forward.server.close()
                del self._by_port[local]

    def close_all(self) -> None:
        for forward in self._by_port.values():
            forward.server.close()
        self._by_port.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            forward = self._by_port.get(writer.get_extra_info("sockname")[1])
            phone = self._phones.get(forward.serial) if forward else None
            serving = forward and phone and phone.state == "device" and phone.proxy_app_running
            if serving and forward.remote == phone.proxy_port:
                await phone.proxy.handle(reader, writer)
        finally:
            self._tasks.discard(task)
            await close_writer(writer)
