"""Worker-process fixtures: the real control plane (``live_server``), Redis, the simulator
and ``python -m worker`` subprocesses (tests/stack.py). Nothing is mocked."""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_customer
from tests.stack import (
    Commands,
    EventReader,
    Simulator,
    WorkerProcess,
    redis_client,
    start_simulator,
    wait_registered,
    worker_env,
)

# Test-only key, shared by every worker of a test (as SNAPSHOT_KEY is in production).
SNAPSHOT_KEY = base64.b64encode(bytes(range(32))).decode()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator per module; short QR codes so tests never wait long for one."""
    log = tmp_path_factory.mktemp("simulator") / "simulator.log"
    sim = start_simulator(log, "--qr-interval", "4", "--refs-per-batch", "6", "--reconnect-delay", "0.3")
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def _snapshot_dir(settings: Any, tmp_path: Path) -> None:
    settings.SNAPSHOT_DIR = str(tmp_path / "control-plane-snapshots")


@pytest.fixture
def wire() -> Iterator[Commands]:
    client = redis_client()
    yield Commands(client)
    client.close()


@pytest.fixture
def events() -> Iterator[EventReader]:
    client = redis_client()
    yield EventReader(client)
    client.close()


@pytest.fixture
def owner(transactional_db: None) -> Any:
    return make_customer("owner@example.com").user


@pytest.fixture
def workers(
    request: pytest.FixtureRequest, live_server: Any, simulator: Simulator, tmp_path: Path, wire: Commands
) -> Iterator[Callable[..., WorkerProcess]]:
    """``workers(name, **env)`` starts a worker (unique id) against the live control plane."""
    made: list[WorkerProcess] = []

    def start(name: str = "a", *, wait: bool = True, **env: str) -> WorkerProcess:
        worker_id = f"wt-{name}-{uuid.uuid4().hex[:6]}"
        data_dir = tmp_path / f"worker-{name}"
        variables = worker_env(
            control_plane_url=live_server.url,
            whatsapp_url=simulator.url + "/",
            data_dir=data_dir,
            worker_id=worker_id,
            SNAPSHOT_KEY=SNAPSHOT_KEY,
        )
        variables.update(env)
        process = WorkerProcess(worker_id, data_dir, variables, tmp_path / f"worker-{name}.log")
        made.append(process)
        process.start()
        if wait:
            wait_registered(process)
        return process

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for process in made:
        process.cleanup()
        wire.forget(process.worker_id)
        if failed:
            print(f"\n----- log of {process.worker_id} -----\n{process.log_tail(200)}")


def make_session(
    owner: Any, session_id: str, worker_id: str, generation: int = 1, status: str = "connecting"
) -> Any:
    """A session routed to ``worker_id`` at ``generation``, as the control plane's connect leaves it."""
    from control_plane.sessions.models import Session

    return Session.objects.create(
        id=session_id, owner=owner, name=session_id, worker_id=worker_id, generation=generation, status=status
    )


def new_session_id(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


_phones = itertools.count(1)


def new_phone() -> str:
    """A number no other test of this run uses (tests share a simulator per module)."""
    return f"1555{os.getpid() % 1000:03d}{next(_phones):04d}"
