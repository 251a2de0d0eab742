"""Whole-stack test helpers: real subprocesses, the real Redis wire, the simulator's phone.

Reused by the worker-process, sessions and failover tests:

- :func:`start_simulator` runs ``python -m simulator`` on a free port;
- :class:`WorkerProcess` runs ``python -m worker`` (start, SIGTERM, SIGKILL,
  its log), with :func:`worker_env` for its environment;
- :func:`wait_registered` waits for the worker's row and first heartbeat
  (needs database access: ``live_server``/``transactional_db``);
- :class:`Commands` XADDs envelopes to a worker's command stream, exactly as
  the control plane does; :class:`EventReader` reads the events stream from
  where the test started and waits for an event matching a predicate;
- :func:`scan` links a session by scanning its latest QR with a phone.

No fixtures here (see the conftest files); Django is imported lazily.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import psutil
import redis

from shared import streams
from shared.envelope import Envelope, WireModel, decode, encode
from shared.events import CommandResult, QrIssued

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("WAGATE_CHROMIUM", "/usr/bin/chromium")
Event = tuple[Envelope, WireModel]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], within: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        time.sleep(every)


def redis_client() -> redis.Redis:
    # redis-py 8 defaults to a 5 s socket timeout, shorter than the BLPOP waits below.
    return redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True, socket_timeout=150
    )


# -- the simulator ----------------------------------------------------------------------
@dataclass
class Simulator:
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def start_simulator(log_path: Path, *extra: str) -> Simulator:
    """``python -m simulator`` on a free port, answering ``/health`` before this returns."""
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - closed by Simulator.stop
    cmd = [sys.executable, "-m", "simulator", "--port", str(port), *extra]
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    sim = Simulator(f"http://127.0.0.1:{port}", process, log)

    def up() -> bool:
        try:
            return httpx.get(f"{sim.url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 20, "the simulator to answer")
    except AssertionError:
        sim.stop()
        raise
    return sim


# -- the worker ---------------------------------------------------------------------------
def worker_env(
    *, control_plane_url: str, whatsapp_url: str, data_dir: Path, worker_id: str, **extra: str
) -> dict[str, str]:
    """The environment of one test worker (WAGATE_ENV and the Redis prefix are inherited)."""
    env = {
        **os.environ,
        "CONTROL_PLANE_URL": control_plane_url,
        "FLEET_ENROLLMENT_TOKEN": "test-enrollment-token",
        "WORKER_ID": worker_id,
        "WORKER_NAME": f"test {worker_id}",
        "WORKER_DATA_DIR": str(data_dir),
        "WHATSAPP_URL": whatsapp_url,
        "CHROMIUM_PATH": CHROMIUM,
        "HEARTBEAT_INTERVAL": "2",
        "QR_TTL": "3",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def _idle_priority() -> None:
    """SCHED_IDLE, inherited by every child: Chromium running as root resets its
    processes' nice values, but not their policy. Where the kernel groups CPU time by
    session (autogroup, as on these VMs), a task's policy only ranks it inside its
    group, so the new session's group gets the lowest weight too (and so do the
    sessions its children open: see ``_IdleSessions``)."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError):  # no autogroup: the policy alone does it
        Path("/proc/self/autogroup").write_text("19")


def _placement(idle_priority: bool, cpus: frozenset[int] | None) -> Callable[[], None] | None:
    """What the worker's process does before exec; its children inherit both."""
    if not idle_priority and cpus is None:
        return None

    def place() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        if idle_priority:
            _idle_priority()

    return place


class _IdleSessions(threading.Thread):
    """Keeps every autogroup in a process tree at the lowest weight. The Playwright
    driver and Chromium each call setsid(), which opens a new autogroup at nice 0:
    measured on these VMs, the "idle" Chromium then still took ~40 % of the CPU
    while the API was being loaded."""

    def __init__(self, root: int) -> None:
        super().__init__(name=f"idle-sessions-{root}", daemon=True)
        self.root, self.stopping = root, threading.Event()

    def run(self) -> None:
        seen: set[int] = set()
        while not self.stopping.wait(0.2):
            try:
                tree = psutil.Process(self.root).children(recursive=True)
            except psutil.Error:
                return
            for child in tree:
                if child.pid not in seen:
                    seen.add(child.pid)
                    with contextlib.suppress(OSError):
                        Path(f"/proc/{child.pid}/autogroup").write_text("19")


@dataclass
class WorkerProcess:
    """One ``python -m worker`` subprocess; its output goes to ``log_path``."""

    worker_id: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    # Benchmarks: the worker and everything it starts (Chromium, the Playwright driver)
    # get only the CPU the rest leaves (see _idle_priority).
    idle_priority: bool = False
    # Benchmarks: the CPUs the worker and everything it starts may run on (None: all).
    cpus: frozenset[int] | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    started_at: float = 0.0
    runs: int = 0
    _pids: set[int] = field(default_factory=set)
    _idle_sessions: _IdleSessions | None = None

    def start(self) -> WorkerProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop/kill/cleanup
        self._log.write(f"\n===== run {self.runs + 1} =====\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as under `make run` or a terminal
            preexec_fn=_placement(self.idle_priority, self.cpus),
        )
        if self.idle_priority:
            self._idle_sessions = _IdleSessions(self.process.pid)
            self._idle_sessions.start()
        self.runs += 1
        self.started_at = time.monotonic()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def descendants(self) -> list[psutil.Process]:
        if not self.alive:
            return []
        assert self.process is not None
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def terminate(self, within: float = 90.0, *, group: bool = True) -> int:
        """SIGTERM (to the whole process group, as `make run` and Ctrl-C do, unless ``group``
        is False) and wait for the exit code of the graceful shutdown."""
        assert self.process is not None
        self._pids |= {p.pid for p in self.descendants()}
        if group:
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not stop within {within}s after SIGTERM\n{self.log_tail()}")
        self._close_log()
        return code

    def kill(self) -> None:
        """SIGKILL the worker only, like a crash (its children are left to themselves)."""
        if self.process is None:
            return
        self._pids |= {p.pid for p in self.descendants()}
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._close_log()

    def cleanup(self) -> None:
        """Kill the worker and anything it ever started (test teardown)."""
        self.kill()
        for pid in self._pids:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                continue

    def _close_log(self) -> None:
        if self._idle_sessions is not None:
            self._idle_sessions.stopping.set()
            self._idle_sessions = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def profile_dir(self, session_id: str) -> Path:
        return self.data_dir / "sessions" / session_id


def wait_registered(worker: WorkerProcess, *, within: float = 45.0, since: float | None = None) -> Any:
    """The worker's row once it has registered and sent a heartbeat since it (re)started,
    or since the monotonic time ``since``."""
    from django.utils import timezone

    from control_plane.fleet.models import Worker

    since = worker.started_at if since is None else since
    started = timezone.now() - timedelta(seconds=time.monotonic() - since)

    def registered() -> Any:
        if worker.process is not None and worker.process.poll() is not None:
            raise AssertionError(f"worker exited with {worker.process.returncode}\n{worker.log_tail()}")
        row = Worker.objects.filter(pk=worker.worker_id).first()
        ok = row is not None and row.last_heartbeat_at is not None and row.last_heartbeat_at >= started
        return row if ok else None

    try:
        return wait_until(registered, within, f"worker {worker.worker_id} to register", every=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.log_tail()}") from None


# -- an outage on demand ---------------------------------------------------------------------
class TcpRelay:
    """Forwards ``127.0.0.1:<port>`` to ``target``, and can be taken down and up again (a
    control plane, or anything else, unreachable then back on the same address) or made to
    hang (connections accepted, never answered)."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._sockets: list[socket.socket] = []
        self._answering = threading.Event()
        self._answering.set()

    def hang(self) -> None:
        """Connections, new and open, are left unanswered (until :meth:`down`)."""
        self._answering.clear()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> TcpRelay:
        relay = self

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                if not relay._answering.is_set():
                    relay._sockets.append(self.request)
                    relay._answering.wait(60)
                    return
                upstream = socket.create_connection(relay.target, timeout=30)
                relay._sockets += [upstream, self.request]
                done = threading.Event()
                for src, dst in ((self.request, upstream), (upstream, self.request)):
                    args = (src, dst, done, relay._answering)
                    threading.Thread(target=_copy, args=args, daemon=True).start()
                done.wait()
                upstream.close()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        """Stop listening and cut every open connection."""
        self._answering.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets = []


def _copy(src: socket.socket, dst: socket.socket, done: threading.Event, answering: threading.Event) -> None:
    try:
        while data := src.recv(65536):
            answering.wait()  # hanging: open connections stall too
            dst.sendall(data)
    except OSError:
        pass
    finally:
        done.set()


# -- the wire ---------------------------------------------------------------------------------
class Commands:
    """Sends commands to workers the way the control plane does (XADD of an envelope)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def send(self, worker_id: str, command: WireModel, *, reply_to: str | None = None) -> str:
        envelope = encode(command, reply_to=reply_to)
        self.redis.xadd(streams.commands_stream(worker_id), {"envelope": envelope.to_json()})
        return envelope.id

    def send_raw(self, worker_id: str, fields: dict[str, str]) -> str:
        return str(self.redis.xadd(streams.commands_stream(worker_id), fields))

    def reply(self, key: str, within: float = 30.0) -> CommandResult:
        """The ``command.result`` pushed on ``key`` (BLPOP)."""
        item = self.redis.blpop([key], timeout=within)
        assert item is not None, f"no reply on {key} within {within}s"
        _, result = decode(item[1])
        assert isinstance(result, CommandResult)
        return result

    def ok(self, key: str, within: float = 30.0) -> CommandResult:
        """The reply on ``key``, which must say ok (the failure's code and reason otherwise)."""
        result = self.reply(key, within)
        assert result.ok, f"command failed: {result.code}: {result.reason}"
        return result

    def pending(self, worker_id: str) -> int:
        try:
            info = self.redis.xpending(streams.commands_stream(worker_id), streams.COMMANDS_GROUP)
        except redis.ResponseError:
            return 0
        return int(info["pending"])

    def dead_letters(self, worker_id: str) -> list[dict[str, str]]:
        return [fields for _, fields in self.redis.xrange(streams.commands_dead_letter(worker_id))]

    def forget(self, worker_id: str) -> None:
        self.redis.delete(
            streams.commands_stream(worker_id),
            streams.commands_dead_letter(worker_id),
            streams.worker_alive_key(worker_id),
        )


class EventReader:
    """Reads the events stream from where it was created; keeps everything it has read."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        last = client.xrevrange(streams.EVENTS_STREAM, count=1)
        self.cursor = last[0][0] if last else "0-0"
        self.seen: list[Event] = []

    def poll(self, block_ms: int = 200) -> list[Event]:
        reply = self.redis.xread({streams.EVENTS_STREAM: self.cursor}, count=500, block=block_ms)
        new: list[Event] = []
        for _, entries in reply or []:
            for entry_id, fields in entries:
                self.cursor = entry_id
                new.append(decode(fields["envelope"]))
        self.seen += new
        return new

    def matching(self, predicate: Callable[[Envelope, WireModel], bool]) -> list[Event]:
        return [(env, ev) for env, ev in self.seen if predicate(env, ev)]

    def wait_for(
        self, predicate: Callable[[Envelope, WireModel], bool], within: float, what: str, *, log: str = ""
    ) -> Event:
        """The first event (already read or new) matching ``predicate``."""
        deadline = time.monotonic() + within
        while True:
            found = self.matching(predicate)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                recent = [f"{env.type} {json.dumps(env.payload)[:160]}" for env, _ in self.seen[-15:]]
                raise AssertionError(
                    f"no event {what} within {within:g}s; last events:\n  " + "\n  ".join(recent) + f"\n{log}"
                )
            self.poll()

    def wait_count(
        self, predicate: Callable[[Envelope, WireModel], bool], count: int, within: float, what: str
    ) -> list[Event]:
        """Wait until at least ``count`` events match; returns them all."""
        deadline = time.monotonic() + within
        while len(found := self.matching(predicate)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} events {what} within {within:g}s")
            self.poll()
        return found


def of(
    source: str | None = None,
    type_name: str | None = None,
    session_id: str | None = None,
    after: int = 0,
    **fields: Any,
) -> Callable[[Envelope, WireModel], bool]:
    """A predicate on events: from ``source``, of ``type_name``, about ``session_id``, with ``fields``."""

    def match(envelope: Envelope, event: WireModel) -> bool:
        if source is not None and envelope.source != source:
            return False
        if type_name is not None and envelope.type != type_name:
            return False
        if session_id is not None and getattr(event, "session_id", None) != session_id:
            return False
        return all(getattr(event, name, object()) == value for name, value in fields.items())

    return match


def types_of(events: Iterable[Event]) -> list[str]:
    return [envelope.type for envelope, _ in events]


# -- the phone ----------------------------------------------------------------------------------
def scan(sim_url: str, phone: str, events: EventReader, worker_id: str, session_id: str) -> None:
    """The phone scans the newest QR the session shows (retrying once if it rotated meanwhile)."""
    for _ in range(3):
        events.wait_for(of(worker_id, "session.qr", session_id), 30, f"a QR for {session_id}")
        events.poll(block_ms=0)
        qrs = [ev for _, ev in events.matching(of(worker_id, "session.qr", session_id))]
        latest = qrs[-1]
        assert isinstance(latest, QrIssued)
        response = httpx.post(f"{sim_url}/phone/{phone}/scan", json={"qr": latest.qr}, timeout=10)
        if response.status_code == 200:
            return
        time.sleep(0.5)  # the code rotated between the event and the scan: take the next one
    raise AssertionError(f"could not scan a QR of {session_id}: {response.status_code} {response.text}")
