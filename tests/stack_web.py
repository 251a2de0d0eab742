"""Whole-stack helpers for the web side: the control plane under uvicorn (HTTP and
websockets in one process) and the event ingester, as real subprocesses.

Reused with tests/stack.py (simulator, worker):

- :func:`subprocess_database_url` is the URL of the database the tests use (the
  test database under pytest-django), for processes that must see the same rows;
- :func:`stack_redis_prefix` gives subprocesses a Redis namespace of their own,
  derived from this run's prefix: the root conftest empties the run's namespace
  before every test, which would delete the consumer groups of processes that
  outlive one test (module-scoped stacks); :func:`forget_redis_prefix` cleans it;
- :func:`control_plane_env` is the environment of those processes;
- :func:`empty_database` deletes what the processes wrote outside any test;
- :func:`start_control_plane` runs ``uvicorn control_plane.config.asgi:application``
  on a free port and waits until it answers; :func:`start_ingester` runs
  ``python manage.py run_ingester``.

Processes are ended by their own pid (SIGTERM, then SIGKILL), never by name.
No fixtures here; Django is imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx
import psutil

from tests.stack import ROOT, free_port, redis_client, wait_until


def subprocess_database_url() -> str:
    """``postgres://…/<test database>`` from Django's live connection settings."""
    from django.db import connection

    db = connection.settings_dict
    if not db["NAME"].startswith("test_"):
        raise RuntimeError(f"refusing to hand the non-test database {db['NAME']!r} to a test stack")
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError(f"whole-stack tests need PostgreSQL, not {db['ENGINE']}")
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def empty_database() -> None:
    """Delete every row, as ``transactional_db`` does after a test. Call it once a stack's
    processes have stopped: a worker that outlived a test's flush re-registers (its token
    was refused) and would leave its row to the tests that follow."""
    from django.core.management import call_command
    from django.db import connection

    if not connection.settings_dict["NAME"].startswith("test_"):
        raise RuntimeError(f"refusing to flush the non-test database {connection.settings_dict['NAME']!r}")
    call_command("flush", interactive=False, verbosity=0)


def stack_redis_prefix(name: str) -> str:
    """``<this run's prefix>-<name>``: outside the namespace the root conftest empties."""
    return f"{os.environ.get('WAGATE_REDIS_PREFIX', 'wagate-test')}-{name}"


def forget_redis_prefix(prefix: str) -> None:
    client = redis_client()
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def control_plane_env(*, database_url: str, redis_prefix: str, **extra: str) -> dict[str, str]:
    """What the control plane's processes share with the tests (WAGATE_ENV is inherited)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WAGATE_REDIS_PREFIX": redis_prefix,
        "DB_POOL_MAX": "4",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


@dataclass
class Process:
    """One subprocess whose output goes to a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def stop(self, within: float = 15.0) -> int:
        """Terminate (then kill) the process; children it left behind are killed too."""
        children = self._descendants()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        _kill_all(children)
        self._log.close()
        return self.process.returncode

    def kill_tree(self) -> None:
        """SIGKILL the process and everything under it, as when its machine or container
        dies (killing only the parent would orphan, say, Celery's pool processes)."""
        children = self._descendants()
        self.process.kill()
        _kill_all(children)
        self.process.wait(10)

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return f"----- {self.name} -----\n" + "\n".join(text.splitlines()[-lines:])


def _kill_all(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(processes, timeout=10)


def _spawn(name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Process:
    log = open(log_path, "ab")  # noqa: SIM115 - closed by Process.stop
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Process(name, process, log_path, log)


@dataclass
class ControlPlane:
    url: str
    ws_url: str
    process: Process


def start_control_plane(env: dict[str, str], log_path: Path, *, within: float = 30.0) -> ControlPlane:
    """uvicorn serving HTTP and the websocket on one free port; its pages open their
    websocket on that same port (``WEBSOCKET_URL``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ws_url = f"ws://127.0.0.1:{port}/ws/"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "control_plane.config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = _spawn("uvicorn", cmd, {**env, "WEBSOCKET_URL": ws_url}, log_path)

    def up() -> bool:
        if not process.alive:
            raise AssertionError(f"uvicorn exited with {process.process.returncode}\n{process.log_tail()}")
        try:
            return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, within, "the control plane to answer /v1/health", every=0.2)
    except AssertionError:
        process.stop()
        raise
    return ControlPlane(url, ws_url, process)


def start_ingester(env: dict[str, str], log_path: Path) -> Process:
    cmd = [sys.executable, "manage.py", "run_ingester", "--consumer", f"e2e-{os.getpid()}"]
    process = _spawn("ingester", cmd, env, log_path)
    wait_until(
        lambda: "running" in log_path.read_text(errors="replace") or not process.alive,
        30,
        "the ingester to start",
    )
    if not process.alive:
        raise AssertionError(f"the ingester exited\n{process.log_tail()}")
    return process
