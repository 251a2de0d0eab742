"""The whole stack for benchmarks, as production runs it: granian (WSGI threads) for
the HTTP API, the event ingester, a Celery worker with beat, the simulator and
workers; its own database (``wagate_bench``, recreated) and its own Redis."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from control_plane.config.serving import WEB_THREADS, WEB_WORKERS, WSGI_APP, web_server_args  # noqa: E402
from tests.stack import WorkerProcess, free_port, start_simulator, wait_until, worker_env  # noqa: E402
from tests.stack_web import Process, _spawn, start_ingester  # noqa: E402
from tests.wholestack import PrivateRedis, start_celery  # noqa: E402

PASSWORD = "a-long-passphrase-9"
ADMIN_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = "wagate_bench"


def fresh_database() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"


def sql(database_url: str, statement: str, *params: Any) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement, params)


@dataclass
class BenchStack:
    url: str
    sim_url: str
    env: dict[str, str]
    logs: Path
    database_url: str
    workers: list[WorkerProcess] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)

    def add_worker(
        self,
        name: str,
        capacity: int,
        idle_priority: bool = False,
        cpus: frozenset[int] | None = None,
        **extra: str,
    ) -> WorkerProcess:
        worker_id = f"bench-{name}"
        data = self.logs / worker_id
        data.mkdir(parents=True, exist_ok=True)
        env = worker_env(
            control_plane_url=self.url,
            whatsapp_url=self.sim_url + "/",
            data_dir=data,
            worker_id=worker_id,
            SNAPSHOT_KEY=base64.b64encode(bytes(range(32))).decode(),
            WAGATE_REDIS_PREFIX=self.env["WAGATE_REDIS_PREFIX"],
            REDIS_URL=self.env["REDIS_URL"],
            WAGATE_ENV="production",
            FLEET_ENROLLMENT_TOKEN=self.env["FLEET_ENROLLMENT_TOKEN"],
            WORKER_CAPACITY=str(capacity),
            HEARTBEAT_INTERVAL=self.env["HEARTBEAT_INTERVAL"],
            LOG_LEVEL="WARNING",
            **extra,
        )
        worker = WorkerProcess(
            worker_id, data, env, self.logs / f"{worker_id}.log", idle_priority=idle_priority, cpus=cpus
        ).start()
        self.workers.append(worker)
        op = self.operator()
        wait_until(
            lambda: op.get(f"/v1/workers/{worker_id}").json().get("status") == "online",
            90,
            f"{worker_id} online",
            every=0.5,
        )
        return worker

    def operator(self) -> httpx.Client:
        response = httpx.post(
            f"{self.url}/v1/auth/login", json={"email": "ops@bench.test", "password": PASSWORD}
        )
        token = response.json()["access"]
        return httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {token}"})

    def customer(self) -> httpx.Client:
        email = f"bench-{uuid.uuid4().hex[:8]}@bench.test"
        access = httpx.post(
            f"{self.url}/v1/auth/register", json={"email": email, "password": PASSWORD}
        ).json()["access"]
        sql(self.database_url, "UPDATE accounts_user SET tier_id = 'max' WHERE email = %s", email)
        # The benchmark's own database: room for any number of sessions and messages. The
        # rate limits stay on (every send is counted, as in production), only raised.
        sql(
            self.database_url,
            "UPDATE accounts_tier SET max_sessions = 1000, messages_per_minute_per_session = 10000000,"
            " messages_per_minute_per_user = 10000000 WHERE name = 'max'",
        )
        key = httpx.post(
            f"{self.url}/v1/api-keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {access}"}
        ).json()["key"]
        return httpx.Client(base_url=self.url, timeout=60, headers={"X-Api-Key": key})

    def link(self, api: httpx.Client, name: str, phone: str) -> str:
        session_id = api.post("/v1/sessions", json={"name": name}).json()["id"]
        assert api.post(f"/v1/sessions/{session_id}/connect").status_code == 202
        for _ in range(200):
            qr = api.get(f"/v1/sessions/{session_id}/qr")
            if qr.status_code == 200:
                scanned = httpx.post(f"{self.sim_url}/phone/{phone}/scan", json={"qr": qr.json()["qr"]})
                if scanned.status_code == 200:
                    break
            time.sleep(0.3)
        wait_until(
            lambda: api.get(f"/v1/sessions/{session_id}").json()["status"] == "connected",
            120,
            f"{session_id} connected",
            every=0.3,
        )
        return session_id


def _web(env: dict[str, str], log_path: Path, port: int) -> Process:
    """The HTTP API as production serves it (granian, WSGI threads; see the README)."""
    workers = env.get("BENCH_WEB_WORKERS", WEB_WORKERS)
    threads = env.get("BENCH_WEB_THREADS", WEB_THREADS)
    cmd = [
        sys.executable,
        "-m",
        "granian",
        *web_server_args(host="127.0.0.1", port=port, workers=workers, threads=threads),
        "--log-level",
        "warning",
        WSGI_APP,
    ]
    return _spawn("web", cmd, env, log_path)


@contextlib.contextmanager
def bench_stack(
    logs: Path, *, heartbeat: int = 10, sim_args: tuple[str, ...] = (), **settings: str
) -> Iterator[BenchStack]:
    logs.mkdir(parents=True, exist_ok=True)
    database_url = fresh_database()
    redis = PrivateRedis(free_port(), logs).start()
    port = free_port()
    env = {
        **os.environ,
        "WAGATE_ENV": "production",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "FLEET_ENROLLMENT_TOKEN": "bench-enrollment",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "WAGATE_REDIS_PREFIX": "bench",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "false",
        "HEARTBEAT_INTERVAL": str(heartbeat),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "SNAPSHOT_DIR": str(logs / "snapshots"),
        "MEDIA_DIR": str(logs / "media"),
        "DB_POOL_MAX": "8",
        "WAGATE_DATA_DIR": str(logs),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from control_plane.accounts.services import demo_user_ensure;"
            f"demo_user_ensure(email='ops@bench.test', password='{PASSWORD}', staff=True)",
        ],
        cwd=ROOT,
        env={**env, "WAGATE_ENV": "development"},
        check=True,
    )
    sim = start_simulator(
        logs / "simulator.log",
        "--qr-interval",
        "20",
        "--max-inbox",
        "100000",
        "--max-accounts",
        "100000",
        *sim_args,
    )
    stack = BenchStack(
        url=f"http://127.0.0.1:{port}", sim_url=sim.url, env=env, logs=logs, database_url=database_url
    )
    try:
        stack.processes["web"] = _web(env, logs / "web.log", port)
        wait_until(lambda: _up(stack.url), 30, "the web server to answer")
        stack.processes["ingester"] = start_ingester(env, logs / "ingester.log")
        stack.processes["celery"] = start_celery(env, logs / "celery.log")
        yield stack
    finally:
        for worker in stack.workers:
            worker.cleanup()
        for process in reversed(list(stack.processes.values())):
            process.stop()
        sim.stop()
        redis.stop()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def percentiles(values: list[float], *names: int) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {f"p{n}": None for n in names}  # type: ignore[misc]
    return {f"p{n}": round(ordered[min(len(ordered) - 1, int(len(ordered) * n / 100))], 2) for n in names}
