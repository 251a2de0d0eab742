"""A protocol-level fake of the host ADB server, driven by the real adbutils client.

It speaks the ADB *host* protocol (smart sockets: a 4-hex-digit length, then
the payload; ``OKAY`` or ``FAIL`` + hex4 + message) on ``127.0.0.1:<random>``,
on its own event loop in a daemon thread, because adbutils is blocking. See
the research brief §2-§3 for the wire conversation of every request.

Usage::

    phone = FakePhone("R58M123")
    with FakeAdbServer([phone]) as adb:       # adb.port is the server port
        ...                                   # point AdbClient(port=adb.port) at it
        adb.set_state("R58M123", "offline")   # thread-safe scripting helpers

Forwards are real: ``forward:tcp:L;tcp:R`` opens a listener on
``127.0.0.1:L`` whose connections are served by the phone's
:class:`~tests.fakes.phone_proxy.PhoneProxy` while the phone is online, its
proxy app runs on ``R`` and its cellular link is up (otherwise they are
closed at once, as adb does when the phone-side port is dead).
``tcp:<port>`` device streams (``create_connection``) reach the same proxy.
Every request is appended to ``request_log``; every shell command to the
phone's ``commands``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.adb_forwards import ForwardTable
from tests.fakes.adb_phone import FakePhone
from tests.fakes.adb_protocol import (
    UNAUTHORIZED,
    close_writer,
    fail,
    okay,
    read_request,
    shell_payload,
    split_serial,
    wait_until_client_leaves,
)


class FakeAdbServer:
    """The fake host ADB server; see the module docstring."""

    def __init__(self, phones: Iterable[FakePhone] = (), *, version: int = 41) -> None:
        self.phones: dict[str, FakePhone] = {}
        self.version = version
        self.hang_version = False
        self.request_log: list[str] = []
        self._trackers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._forwards = ForwardTable(self.phones, self._tasks)
        self._next_transport_id = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.host = "127.0.0.1"
        self.port = 0
        for phone in phones:
            self._register(phone)

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> FakeAdbServer:
        """Start the loop thread and listen on a random loopback port."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, self.host, 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-adb-server", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("fake ADB server did not start")
        return self

    def stop(self) -> None:
        """Close every listener and connection, then stop the loop thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> FakeAdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        self._forwards.close_all()
        for phone in self.phones.values():
            phone.proxy.drop_connections()
        # A connection accepted a moment ago may have a handler task that has not taken
        # its first step, where it registers itself; cancelled before that step, it
        # never runs its finally and its socket is left to the garbage collector (a
        # ResourceWarning in whichever test runs then). Let such tasks start first.
        me = asyncio.current_task()
        for _ in range(10):
            if {task for task in asyncio.all_tasks() if task is not me} <= self._tasks:
                break
            await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for phone in self.phones.values():
            await phone.proxy.stop()
        await self._server.wait_closed()

    # ---- scripting (callable from any thread) ------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the server loop (or inline before start) and return its result."""
        if self._loop is None:
            return fn(*args)

        async def job() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(job(), self._loop).result(5)

    def add_phone(self, phone: FakePhone) -> None:
        self.call(self._register, phone)

    def remove_phone(self, serial: str) -> None:
        """Unplug a phone: it disappears, its forwards and connections die."""
        self.call(self._unplug, serial)

    def set_state(self, serial: str, state: str) -> None:
        """Set a phone's ADB state; leaving ``device`` kills its forwards."""
        self.call(self._set_state, serial, state)

    def set_airplane(self, serial: str, on: bool) -> None:
        self.call(self.phones[serial].set_airplane, on)

    @property
    def open_connections(self) -> int:
        """Client connections (including forwarded ones) still being served."""
        return len(self._tasks)

    def forwards(self) -> list[tuple[str, str, str]]:
        """The installed forwards as ``(serial, "tcp:L", "tcp:R")``."""
        return self._forwards.entries()

    def _register(self, phone: FakePhone) -> None:
        phone.transport_id = self._next_transport_id
        self._next_transport_id += 1
        self.phones[phone.serial] = phone
        self._notify()

    def _unplug(self, serial: str) -> None:
        phone = self.phones.pop(serial)
        self._forwards.drop(serial)
        phone.proxy.drop_connections()
        self._notify()

    def _set_state(self, serial: str, state: str) -> None:
        phone = self.phones[serial]
        phone.state = state
        if state != "device":
            self._forwards.drop(serial)
            phone.proxy.drop_connections()
        self._notify()

    # ---- listings ------------------------------------------------------------------
    def _device_lines(self, long: bool) -> str:
        lines = []
        for phone in self.phones.values():
            if not long:
                lines.append(f"{phone.serial}\t{phone.state}\n")
                continue
            extra = "usb:1-1"
            if phone.state == "device":
                model = "".join(c if c.isalnum() else "_" for c in phone.model)
                extra += f" product:{model.lower()} model:{model} device:{model.lower()}"
            lines.append(f"{phone.serial:<22} {phone.state} {extra} transport_id:{phone.transport_id}\n")
        return "".join(lines)

    def _notify(self) -> None:
        listing = self._device_lines(long=False).encode()
        for writer in list(self._trackers):
            writer.write(b"%04x" % len(listing) + listing)

    def _online_error(self, serial: str) -> str | None:
        phone = self.phones.get(serial)
        if phone is None:
            return f"device '{serial}' not found"
        if phone.state == "unauthorized":
            return UNAUTHORIZED
        if phone.state in ("authorizing", "connecting"):
            return f"device still {phone.state}"
        if phone.state != "device":
            return "device offline"
        return None

    # ---- connections -----------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await read_request(reader)
            self.request_log.append(request)
            await self._host_service(request, reader, writer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            self._trackers.discard(writer)
            await close_writer(writer)

    async def _host_service(
        self, req: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if req == "host:version":
            if self.hang_version:
                return await wait_until_client_leaves(reader)
            return okay(writer, f"{self.version:04x}")
        if req in ("host:devices", "host:devices-l"):
            return okay(writer, self._device_lines(long=req.endswith("-l")))
        if req == "host:track-devices":
            okay(writer, self._device_lines(long=False))
            self._trackers.add(writer)
            return await wait_until_client_leaves(reader)
        if req == "host:kill":
            return okay(writer)
        if req == "host:list-forward":
            return okay(writer, self._forwards.lines())
        if req.startswith(("host:connect:", "host:disconnect:")):
            return self._connect(req, writer)
        if req.startswith("host:wait-for-"):
            return await self._wait_for(None, req[len("host:") :], reader, writer)
        if req.startswith(("host:tport:", "host:transport")):
            return await self._transport(req, reader, writer)
        if req.startswith("host-serial:"):
            serial, command = split_serial(req[len("host-serial:") :], self.phones)
            return await self._serial_service(serial, command, reader, writer)
        if req.startswith("host-transport-id:"):
            tid, _, command = req[len("host-transport-id:") :].partition(":")
            serial = next((p.serial for p in self.phones.values() if str(p.transport_id) == tid), f"id:{tid}")
            return await self._serial_service(serial, command, reader, writer)
        fail(writer, "unknown host service")

    def _connect(self, req: str, writer: asyncio.StreamWriter) -> None:
        verb, _, addr = req[len("host:") :].partition(":")
        known = addr in self.phones
        if verb == "connect":
            okay(
                writer,
                f"already connected to {addr}"
                if known
                else f"failed to connect to '{addr}': Connection refused",
            )
        elif known:
            okay(writer, f"disconnected {addr}")
        else:
            fail(writer, f"no such device '{addr}'")

    async def _wait_for(
        self, serial: str | None, command: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        wanted = command.rsplit("-", 1)[-1]

        def reached() -> bool:
            phones = (
                [self.phones[serial]]
                if serial in self.phones
                else []
                if serial
                else list(self.phones.values())
            )
            if wanted == "disconnect":
                return not phones
            return any(p.state == wanted or wanted == "any" for p in phones)

        okay(writer)
        while not reached():
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                    return
        okay(writer)

    async def _serial_service(
        self, serial: str, command: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if command == "list-forward":
            return okay(writer, self._forwards.lines())
        if command.startswith("wait-for-"):
            return await self._wait_for(serial, command, reader, writer)
        phone = self.phones.get(serial)
        if phone is not None and phone.take_fault(command, ("hang_transport",)):
            return await wait_until_client_leaves(reader)
        error = self._online_error(serial)
        if error is not None or phone is None:
            return fail(writer, error or "device not found")
        if command in ("get-state", "get-serialno", "get-devpath", "features"):
            answers = {"get-state": phone.state, "get-serialno": serial, "get-devpath": "usb:1-1"}
            return okay(writer, answers.get(command, phone.features))
        if command.startswith("forward:"):
            return await self._forwards.add(serial, command[len("forward:") :], writer)
        if command.startswith("killforward"):
            return self._forwards.kill(serial, command, writer)
        fail(writer, f"unknown host service '{command}'")

    # ---- transport switch and device services ------------------------------------------
    async def _transport(self, req: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        selector = req[len("host:") :]
        with_id = selector.startswith("tport:")
        selector = selector.removeprefix("tport:").removeprefix("transport")
        selector = selector.removeprefix(":").removeprefix("-")
        if selector.startswith("serial:"):
            serial = selector[len("serial:") :]
        elif selector.startswith("id:"):
            tid = selector[len("id:") :]
            serial = next((p.serial for p in self.phones.values() if str(p.transport_id) == tid), f"id:{tid}")
        elif selector in ("any", "usb", "local"):
            online = [p.serial for p in self.phones.values() if p.state == "device"]
            if len(online) != 1:
                return fail(
                    writer, "more than one device/emulator" if online else "no devices/emulators found"
                )
            serial = online[0]
        else:
            serial = selector
        phone = self.phones.get(serial)
        if phone is not None and phone.take_fault("transport", ("hang_transport",)):
            return await wait_until_client_leaves(reader)
        error = self._online_error(serial)
        if error is not None or phone is None:
            return fail(writer, error or "device not found")
        writer.write(b"OKAY" + (struct.pack("<Q", phone.transport_id) if with_id else b""))
        service = await read_request(reader)
        self.request_log.append(service)
        await self._device_service(phone, service, reader, writer)

    async def _device_service(
        self, phone: FakePhone, service: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        fault = phone.take_fault(service, ("hang_before_okay", "hang_after_okay", "drop_mid", "reset"))
        if fault is not None and fault.kind == "hang_before_okay":
            return await wait_until_client_leaves(reader)
        if service.startswith("tcp:"):
            if service[4:] == str(phone.proxy_port) and phone.proxy_app_running:
                writer.write(b"OKAY")
                return await phone.proxy.handle(reader, writer)
            return fail(writer, "closed")
        if service == "reverse:list-forward":
            return okay(writer, "")
        if service.startswith("reverse:"):
            writer.write(b"OKAYOKAY")
            return None
        if not service.startswith(("shell", "exec:")):
            return fail(writer, "closed")
        opts, _, command = service.partition(":")
        v2 = "v2" in opts.split(",")[1:]
        writer.write(b"OKAY")
        if fault is not None and fault.kind == "hang_after_okay":
            await writer.drain()
            return await wait_until_client_leaves(reader)
        if fault is not None and fault.kind == "reset":
            return _reset(writer)
        truncate = fault is not None and fault.kind == "drop_mid"
        writer.write(shell_payload(phone, command, v2=v2, raw=opts == "exec", truncate=truncate))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST rather than FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
