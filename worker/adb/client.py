"""adbutils behind deadlines: the only module of the controller that calls adbutils.

adbutils is blocking and, left alone, can wait far longer than a worker may
(research brief §1.4): ``open_transport`` defaults to a 600 s socket timeout
that wins over ``socket_timeout`` (a hang before the shell ``OKAY``, or on
the ``features`` request that ``shell2(v2=True)`` makes first, is not bounded
by the call's ``timeout``), and ``host:version`` blocks forever without a
``socket_timeout``. So every call here:

* runs in the gateway's own thread pool, awaited with ``asyncio.wait_for``;
* carries a per-call deadline in a thread-local *scope*; our AdbClient
  subclass clamps the timeout of every socket it opens to what is left of
  it, whatever timeout adbutils asked for, and records the socket;
* on expiry, shuts those sockets down so the thread ends too (no thread
  stays blocked behind a returned coroutine), and closes them all after the
  call (adbutils leaks the socket when a request fails before ``OKAY``).

It never starts an ADB server: a refused connection is reported, not
answered by ``adb start-server`` (our connection class skips that step, and
``ADBUTILS_ADB_PATH`` defaults to a harmless binary for any other path).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from adbutils import AdbClient, AdbConnection, AdbError, AdbTimeout, Network
from adbutils.errors import AdbConnectionError

from worker.adb.errors import AdbCallError, classify
from worker.adb.settings import AdbSettings

T = TypeVar("T")
_scope = threading.local()
_CONNECT_TIMEOUT = 3.0  # adbutils' own connect timeout


class _CallScope:
    """Deadline and sockets of one blocking call, shared by its thread and the loop."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._aborted = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def adopt(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            aborted = self._aborted
        if aborted:
            raise AdbTimeout("call deadline exceeded")

    def abort(self) -> None:
        """Wake the thread blocked in recv (shutdown is safe from another thread)."""
        with self._lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()


class _NoSpawnConnection(AdbConnection):  # type: ignore[misc]
    """An AdbConnection that never runs ``adb start-server`` when the server is down.

    It also closes its socket when the connect fails (adbutils' own
    ``_create_socket`` leaks it) and bounds the connect by the call deadline.
    """

    def __init__(self, host: str, port: int, connect_timeout: float) -> None:
        self._target = (host, port)
        self._connect_timeout = connect_timeout
        super().__init__(host, port)

    def _safe_connect(self) -> socket.socket:
        try:
            sock = socket.create_connection(self._target, timeout=self._connect_timeout)
        except TimeoutError as exc:
            raise AdbTimeout(f"connect to adb server {self._target[0]}:{self._target[1]} timed out") from exc
        except OSError as exc:
            raise AdbConnectionError(f"connect to adb server failed: {exc}") from exc
        # Same keepalive as adbutils: a silently dead server is noticed.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock


class _DeadlineClient(AdbClient):  # type: ignore[misc]
    """AdbClient whose every socket obeys the current call's deadline."""

    def __init__(self, host: str, port: int, socket_timeout: float) -> None:
        super().__init__(host=host, port=port, socket_timeout=socket_timeout)
        self._default_timeout = socket_timeout

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        scope: _CallScope | None = getattr(_scope, "current", None)
        wanted = timeout or self._default_timeout
        if scope is not None:
            remaining = scope.remaining()
            if remaining <= 0:
                raise AdbTimeout("call deadline exceeded")
            wanted = min(wanted, remaining)
        conn = _NoSpawnConnection(self.host, self.port, min(wanted, _CONNECT_TIMEOUT))
        if scope is not None:
            scope.adopt(conn.conn)
        conn.conn.settimeout(wanted)
        return conn


@dataclass(frozen=True)
class ShellOutput:
    """What a shell command printed and how it exited."""

    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.strip()


@dataclass(frozen=True)
class ListedDevice:
    """One line of ``adb devices -l``."""

    serial: str
    state: str
    model: str | None
    transport_id: int | None


@dataclass(frozen=True)
class ForwardEntry:
    """One line of ``adb forward --list`` (tcp ports only; others are None)."""

    serial: str
    local_port: int | None
    remote_port: int | None


class AdbGateway:
    """Async, deadline-bounded access to the host's ADB server.

    Every method raises only :class:`AdbCallError` on failure.
    """

    def __init__(self, settings: AdbSettings) -> None:
        # adbutils reads this only when it wants to spawn a server; we never
        # let it, but any path we do not wrap must find a harmless binary.
        os.environ.setdefault("ADBUTILS_ADB_PATH", settings.adb_path)
        self._settings = settings
        self._client = _DeadlineClient(settings.server_host, settings.server_port, settings.socket_timeout)
        self._executor = ThreadPoolExecutor(max_workers=settings.max_threads, thread_name_prefix="wagate-adb")
        self._devices: dict[str, Any] = {}

    async def aclose(self) -> None:
        """Stop the thread pool; calls still running end at their own deadline."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def forget(self, serial: str) -> None:
        """Drop the cached device object (its features) after a state change."""
        self._devices.pop(serial, None)

    def _device(self, serial: str) -> Any:
        if serial not in self._devices:
            self._devices[serial] = self._client.device(serial)
        return self._devices[serial]

    async def run(self, what: str, fn: Callable[[], T], deadline: float | None = None) -> T:
        """Run blocking ``fn`` in the pool under an overall deadline; failures become AdbCallError."""
        budget = deadline if deadline is not None else self._settings.call_deadline
        scope = _CallScope(time.monotonic() + budget)

        def job() -> T:
            _scope.current = scope
            try:
                return fn()
            finally:
                _scope.current = None
                scope.close_all()

        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        except RuntimeError as exc:  # the pool was shut down
            raise AdbCallError("adb_error", what, "ADB controller is closed") from exc
        try:
            return await asyncio.wait_for(future, budget)
        except TimeoutError as exc:  # asyncio's deadline, or a socket timeout inside
            scope.abort()
            raise AdbCallError("timeout", what, f"no answer within {budget:g}s") from exc
        except (AdbError, EOFError, OSError, ValueError) as exc:
            raise classify(what, exc) from exc

    async def server_version(self) -> int:
        version: int = await self.run("host:version", self._client.server_version)
        return version

    async def list_devices(self) -> list[ListedDevice]:
        infos = await self.run("host:devices-l", lambda: self._client.list(extended=True))
        devices = []
        for info in infos:
            tid = info.tags.get("transport_id")
            model = info.tags.get("model")
            devices.append(ListedDevice(info.serial, info.state, model, int(tid) if tid else None))
        return devices

    async def shell(self, serial: str, command: str, *, command_timeout: float | None = None) -> ShellOutput:
        """``adb shell`` over shell protocol v2 (exit code, stderr, truncation raises)."""
        timeout = command_timeout or self._settings.command_timeout
        device = self._device(serial)
        deadline = timeout + (self._settings.call_deadline - self._settings.command_timeout)
        result = await self.run(
            f"{serial}: {command}", lambda: device.shell2(command, timeout=timeout, v2=True), deadline
        )
        return ShellOutput(int(result.returncode), str(result.stdout), str(result.stderr))

    async def forward(self, serial: str, local_port: int, remote_port: int, *, norebind: bool) -> None:
        device = self._device(serial)
        spec = (f"tcp:{local_port}", f"tcp:{remote_port}")
        await self.run(
            f"{serial}: forward {spec[0]} {spec[1]}", lambda: device.forward(*spec, norebind=norebind)
        )

    async def forward_list(self) -> list[ForwardEntry]:
        """Every forward of the server (all devices)."""
        items = await self.run("host:list-forward", self._client.forward_list)
        return [ForwardEntry(i.serial, _tcp_port(i.local), _tcp_port(i.remote)) for i in items]

    async def probe_tcp(self, serial: str, port: int) -> bool:
        """Whether something listens on ``port`` on the phone (``tcp:<port>`` answers OKAY)."""
        device = self._device(serial)
        try:
            # The socket is registered in the call scope and closed after the call.
            await self.run(f"{serial}: tcp:{port}", lambda: device.create_connection(Network.TCP, port))
        except AdbCallError as exc:
            if exc.code == "closed":
                return False
            raise
        return True


def _tcp_port(spec: str) -> int | None:
    kind, _, value = spec.partition(":")
    return int(value) if kind == "tcp" and value.isdigit() else None
