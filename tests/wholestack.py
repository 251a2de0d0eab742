"""The whole stack for end-to-end and chaos tests, driven only through its public
surfaces: the HTTP API, the simulator's phone API, and process signals.

``whole_stack(...)`` starts, as real subprocesses: the control plane (uvicorn,
HTTP + websocket), the event ingester, optionally a Celery worker with beat and
a private Redis (so chaos tests may restart it without disturbing anything
else), the simulator, and N workers. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.stack import WorkerProcess, free_port, start_simulator, wait_until, worker_env
from tests.stack_web import (
    Process,
    _spawn,
    control_plane_env,
    empty_database,
    forget_redis_prefix,
    stack_redis_prefix,
    start_control_plane,
    start_ingester,
    subprocess_database_url,
)

SNAPSHOT_KEY = base64.b64encode(bytes(range(32))).decode()
PASSWORD = "a-long-passphrase-9"


@dataclass
class PrivateRedis:
    """A redis-server of the test's own (append-only file, so a restart keeps streams)."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _redis_answers(self.port), 10, "the private redis to answer")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes its append-only file and exits
            self.process.wait(15)


def _redis_answers(port: int) -> bool:
    import redis

    client = redis.Redis(port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class Customer:
    email: str
    client: httpx.Client  # JWT
    api: httpx.Client  # API key

    def close(self) -> None:
        self.client.close()
        self.api.close()


@dataclass
class WholeStack:
    url: str
    sim_url: str
    env: dict[str, str]
    logs: Path
    workers: list[WorkerProcess]
    processes: dict[str, Process]
    redis: PrivateRedis | None = None
    blocker: Any = None
    customers: list[Customer] = field(default_factory=list)
    _operator: httpx.Client | None = None

    def db(self) -> Any:
        """Direct database access from the test process (outside any test transaction)."""
        return self.blocker.unblock()

    # -- processes ---------------------------------------------------------------------
    def add_worker(self, name: str, **extra: str) -> WorkerProcess:
        worker_id = f"w-{name}-{uuid.uuid4().hex[:4]}"
        data = self.logs / worker_id
        data.mkdir(parents=True, exist_ok=True)
        env = worker_env(
            control_plane_url=self.url,
            whatsapp_url=self.sim_url + "/",
            data_dir=data,
            worker_id=worker_id,
            SNAPSHOT_KEY=SNAPSHOT_KEY,
            WAGATE_REDIS_PREFIX=self.env["WAGATE_REDIS_PREFIX"],
            REDIS_URL=self.env["REDIS_URL"],
            **extra,
        )
        worker = WorkerProcess(worker_id, data, env, self.logs / f"{worker_id}.log").start()
        self.workers.append(worker)
        wait_until(lambda: self.worker_status(worker_id) == "online", 60, f"{worker_id} to come online")
        return worker

    def crash(self, worker: WorkerProcess) -> None:
        """The worker's machine dies: SIGKILL the worker and every process under it
        (its Playwright driver and Chromium too), nothing gets to say goodbye."""
        import psutil

        doomed = worker.descendants()
        worker.kill()
        for process in doomed:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(doomed, timeout=10)

    def restart(self, name: str) -> None:
        """Start a stopped control-plane process again (ingester, celery)."""
        self.processes[name].stop()  # also closes the log of a process that was killed
        self.processes[name] = _START[name](self.env, self.logs / f"{name}.log")

    @contextlib.contextmanager
    def supervised(self) -> Iterator[list[str]]:
        """Restart control-plane processes that exit, as docker-compose's
        ``restart: unless-stopped`` (and ``make run``) do in a real deployment; yields
        the names restarted, so a test can say which needed it."""
        restarted: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.5):
                for name in _START:
                    process = self.processes.get(name)
                    if process is not None and not process.alive:
                        restarted.append(name)
                        self.restart(name)

        watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
        watcher.start()
        try:
            yield restarted
        finally:
            done.set()
            watcher.join(30)

    def logs_tail(self) -> str:
        parts = [p.log_tail(40) for p in self.processes.values()]
        parts += [f"----- {w.worker_id} -----\n{w.log_tail(40)}" for w in self.workers]
        return "\n".join(parts)

    # -- operators -----------------------------------------------------------------------
    def operator(self) -> httpx.Client:
        """The operator's client (one per stack, closed with it)."""
        if self._operator is None:
            with httpx.Client(base_url=self.url, timeout=30) as anonymous:
                body = {"email": "ops@e2e.test", "password": PASSWORD}
                response = anonymous.post("/v1/auth/login", json=body)
            assert response.status_code == 200, response.text
            token = response.json()["access"]
            self._operator = httpx.Client(
                base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
        return self._operator

    def worker_status(self, worker_id: str) -> str | None:
        from control_plane.fleet.models import Worker

        with self.db():
            worker = Worker.objects.filter(pk=worker_id).first()
            return worker.status if worker else None

    # -- customers ---------------------------------------------------------------------
    def customer(self, tier: str = "max") -> Customer:
        email = f"c-{uuid.uuid4().hex[:8]}@e2e.test"
        anonymous = httpx.Client(base_url=self.url, timeout=60)
        response = anonymous.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        access = response.json()["access"]
        from control_plane.accounts.models import User

        with self.db():
            User.objects.filter(email=email).update(tier_id=tier)
        jwt = httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {access}"})
        key = jwt.post("/v1/api-keys", json={"name": "e2e"}).json()["key"]
        api = httpx.Client(base_url=self.url, timeout=60, headers={"X-Api-Key": key})
        anonymous.close()
        customer = Customer(email, jwt, api)
        self.customers.append(customer)
        return customer

    def session(self, customer: Customer, name: str = "shop") -> str:
        response = customer.api.post("/v1/sessions", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def wait_status(self, customer: Customer, session_id: str, status: str, within: float = 60.0) -> dict:
        def reached() -> dict | None:
            body = customer.api.get(f"/v1/sessions/{session_id}").json()
            return body if body.get("status") == status else None

        try:
            return wait_until(reached, within, f"{session_id} to be {status}", every=0.3)
        except AssertionError:
            raise AssertionError(f"{session_id} never became {status}\n{self.logs_tail()}") from None

    def link(self, customer: Customer, session_id: str, phone: str) -> dict:
        """connect → QR by the API → the phone scans it → connected; returns the session."""
        assert customer.api.post(f"/v1/sessions/{session_id}/connect").status_code == 202
        self.wait_status(customer, session_id, "qr_ready")
        for _ in range(5):
            qr = customer.api.get(f"/v1/sessions/{session_id}/qr")
            if qr.status_code == 200:
                scanned = httpx.post(
                    f"{self.sim_url}/phone/{phone}/scan", json={"qr": qr.json()["qr"]}, timeout=10
                )
                if scanned.status_code == 200:
                    return self.wait_status(customer, session_id, "connected")
            time.sleep(0.5)  # the code rotated between reading and scanning
        raise AssertionError(f"could not scan {session_id}\n{self.logs_tail()}")

    def inbox(self, phone: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.sim_url}/phone/{phone}/inbox", timeout=10)
        assert response.status_code == 200, response.text
        return response.json() if isinstance(response.json(), list) else response.json()["messages"]


def start_celery(env: dict[str, str], log_path: Path) -> Process:
    """A Celery worker with beat (its own schedule file and node name), once it is ready."""
    schedule = log_path.parent / f"beat-{uuid.uuid4().hex[:6]}"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "control_plane",
        "worker",
        "-B",
        "-l",
        "info",
        "--concurrency",
        "2",
        "-s",
        str(schedule),
        "-n",
        f"e2e-{uuid.uuid4().hex[:6]}@%h",
    ]
    process = _spawn("celery", cmd, env, log_path)
    wait_until(
        lambda: "ready." in log_path.read_text(errors="replace") or not process.alive,
        60,
        "celery to be ready",
    )
    assert process.alive, process.log_tail()
    return process


_START = {"ingester": start_ingester, "celery": start_celery}


@contextlib.contextmanager
def whole_stack(
    name: str,
    *,
    django_db_blocker: Any,
    logs: Path,
    workers: int = 1,
    celery: bool = False,
    private_redis: bool = False,
    sim_args: tuple[str, ...] = (),
    **settings: str,
) -> Iterator[WholeStack]:
    """Start everything; on exit stop everything and empty the database. A Celery
    worker always gets a private Redis (its queue must not be shared with other runs)."""
    private_redis = private_redis or celery
    with django_db_blocker.unblock():
        database_url = subprocess_database_url()
        empty_database()
    redis = PrivateRedis(free_port(), logs).start() if private_redis else None
    prefix = stack_redis_prefix(f"{name}-{uuid.uuid4().hex[:6]}")
    env = control_plane_env(
        database_url=database_url,
        redis_prefix=prefix,
        REDIS_URL=redis.url if redis else os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CELERY_TASK_ALWAYS_EAGER="false" if celery else "true",
        WEBHOOKS_ALLOW_PRIVATE_TARGETS="true",
        HEARTBEAT_INTERVAL="2",
        WORKER_MISSED_BEATS="3",
        WORKER_OFFLINE_GRACE="2",
        HEALTH_MONITOR_INTERVAL="1",
        QR_MAX_CODES="30",
        SNAPSHOT_DIR=str(logs / "snapshots"),
        MEDIA_DIR=str(logs / "media"),
        **settings,
    )
    sim = start_simulator(logs / "simulator.log", "--qr-interval", "5", *sim_args)
    stack = WholeStack(
        url="",
        sim_url=sim.url,
        env=env,
        logs=logs,
        workers=[],
        processes={},
        redis=redis,
        blocker=django_db_blocker,
    )
    try:
        control_plane = start_control_plane(env, logs / "uvicorn.log")
        stack.url = control_plane.url
        stack.processes["uvicorn"] = control_plane.process
        stack.processes["ingester"] = start_ingester(env, logs / "ingester.log")
        if celery:
            stack.processes["celery"] = start_celery(env, logs / "celery.log")
        with django_db_blocker.unblock():
            from control_plane.accounts.services import demo_user_ensure

            demo_user_ensure(email="ops@e2e.test", password=PASSWORD, staff=True)
        for n in range(workers):
            stack.add_worker(str(n + 1))
        yield stack
    finally:
        for customer in stack.customers:
            customer.close()
        if stack._operator is not None:
            stack._operator.close()
        for worker in stack.workers:
            worker.cleanup()
        for process in reversed(list(stack.processes.values())):
            process.stop()
        sim.stop()
        if redis:
            redis.stop()
        else:
            forget_redis_prefix(prefix)
        with django_db_blocker.unblock():
            empty_database()
        shutil.rmtree(logs / "snapshots", ignore_errors=True)
