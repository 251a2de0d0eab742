"""``make run``: the whole wagate stack on one machine, stopped cleanly by Ctrl-C.

Starts every process that exists so far (HTTP API, websockets, event
ingester, Celery, simulator, one worker), prefixes their output, prints the
URLs and the demo logins, and on Ctrl-C/SIGTERM stops them all (SIGTERM,
then SIGKILL after a grace period). A process that dies is started again, as
docker-compose's ``restart: unless-stopped`` does (Celery, for one, can exit
when Redis restarts under it: a known kombu race). One that keeps dying (more
than RESTARTS_ALLOWED times in RESTART_WINDOW seconds) stops the whole
stack, so a broken stack never looks healthy.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from control_plane.config.serving import WSGI_APP, web_server_args

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DATA = Path(os.environ.get("WAGATE_DATA_DIR", ROOT / ".wagate"))
GRACE_SECONDS = 20
RESTARTS_ALLOWED = 5
RESTART_WINDOW = 300.0


@dataclass
class Proc:
    name: str
    argv: list[str]
    present: bool = True
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None


def stack_env() -> dict[str, str]:
    port = os.environ.get("PORT", "8000")
    env = {
        "WAGATE_ENV": "development",
        "PORT": port,
        "WS_PORT": os.environ.get("WS_PORT", "8001"),
        "SIMULATOR_PORT": os.environ.get("SIMULATOR_PORT", "8100"),
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "CONTROL_PLANE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    return {**env, **os.environ}  # the caller's environment wins over the defaults


def processes(env: dict[str, str]) -> list[Proc]:
    py = str(VENV_BIN / "python")
    return [
        Proc(
            "web",
            [
                str(VENV_BIN / "granian"),
                *web_server_args(host="127.0.0.1", port=env["PORT"]),
                "--access-log",
                "--workers-kill-timeout",
                "10",
                WSGI_APP,
            ],
        ),
        Proc(
            "realtime",
            [
                str(VENV_BIN / "uvicorn"),
                "control_plane.config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                env["WS_PORT"],
                "--no-access-log",
            ],
        ),
        Proc(
            "ingester",
            [py, "manage.py", "run_ingester"],
            present=(ROOT / "control_plane/core/management/commands/run_ingester.py").exists(),
        ),
        Proc(
            "celery",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "control_plane",
                "worker",
                "-B",
                "-l",
                "info",
                "--concurrency",
                "2",
                "-s",
                str(DATA / "celerybeat-schedule"),
            ],
        ),
        Proc(
            "simulator",
            [py, "-m", "simulator", "--port", env["SIMULATOR_PORT"]],
            present=(ROOT / "simulator/__main__.py").exists(),
        ),
        Proc(
            "worker",
            [py, "-m", "worker"],
            present=(ROOT / "worker/__main__.py").exists(),
            env={
                "WORKER_ID": "local-1",
                "WORKER_DATA_DIR": str(DATA / "worker-local-1"),
                "WHATSAPP_URL": f"http://127.0.0.1:{env['SIMULATOR_PORT']}/",
            },
        ),
    ]


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def demo_logins(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Create the demo operator and customer once, with random passwords kept in .wagate/."""
    path = DATA / "demo-logins.json"
    if path.exists():
        logins = json.loads(path.read_text())
    else:
        logins = {
            role: {"email": f"{role}@wagate.local", "password": secrets.token_urlsafe(12)}
            for role in ("operator", "customer")
        }
        path.write_text(json.dumps(logins, indent=2))
        path.chmod(0o600)
    manage(env, "ensure_demo_users", "--file", str(path))
    return logins


def start(proc: Proc, env: dict[str, str]) -> None:
    proc.popen = subprocess.Popen(
        proc.argv,
        cwd=ROOT,
        env={**env, **proc.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_all(procs: list[Proc]) -> None:
    running = [p for p in procs if p.popen and p.popen.poll() is None]
    for proc in running:
        os.killpg(proc.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for proc in running:
        try:
            proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[stack] {proc.name} did not stop in {GRACE_SECONDS}s: killing it", flush=True)
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()


def pump(procs: list[Proc], env: dict[str, str]) -> str | None:
    """Relay output until a signal, restarting processes that exit; returns the name of
    one that kept dying."""
    selector = selectors.DefaultSelector()
    width = max(len(p.name) for p in procs)
    for proc in procs:
        selector.register(proc.popen.stdout, selectors.EVENT_READ, proc)
    restarts: dict[str, list[float]] = {}
    while True:
        for key, _ in selector.select(timeout=1.0):
            proc = key.data
            line = key.fileobj.readline()
            if line:
                sys.stdout.write(f"{proc.name:<{width}} | {line.decode(errors='replace')}")
                sys.stdout.flush()
            else:
                selector.unregister(key.fileobj)
        for proc in procs:
            code = proc.popen.poll()
            if code is None:
                continue
            now = time.monotonic()
            recent = [t for t in restarts.get(proc.name, []) if now - t < RESTART_WINDOW]
            if len(recent) >= RESTARTS_ALLOWED:
                return proc.name
            print(f"[stack] {proc.name} exited (code {code}); starting it again", flush=True)
            start(proc, env)
            selector.register(proc.popen.stdout, selectors.EVENT_READ, proc)
            restarts[proc.name] = [*recent, now]


def simulator_line(procs: list[Proc], env: dict[str, str]) -> str:
    if not any(p.name == "simulator" for p in procs):
        return ""
    return f"\n  simulator      http://127.0.0.1:{env['SIMULATOR_PORT']}/   (the phone page: /phone)"


def main() -> int:
    env = stack_env()
    DATA.mkdir(parents=True, exist_ok=True)
    manage(env, "migrate", "--no-input", "-v", "0")
    logins = demo_logins(env)
    procs = [p for p in processes(env) if p.present]
    stopping = {"signal": False}

    def on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started where SIGINT was ignored
    for proc in procs:
        start(proc, env)
    print(
        f"""
wagate is starting ({", ".join(p.name for p in procs)}):
  API + portal   http://127.0.0.1:{env["PORT"]}/   (API docs: /v1/docs/, health: /v1/health, admin: /admin/)
  websockets     ws://127.0.0.1:{env["WS_PORT"]}/ws/
  simulator      http://127.0.0.1:{env["SIMULATOR_PORT"]}/   (the phone page: /phone)
  database       {env["DATABASE_URL"].split("@")[-1]}
  operator login {logins["operator"]["email"]} / {logins["operator"]["password"]}
  demo customer  {logins["customer"]["email"]} / {logins["customer"]["password"]}
Press Ctrl-C to stop everything.
""",
        flush=True,
    )
    died = None
    try:
        died = pump(procs, env)
    except KeyboardInterrupt:
        pass
    if died:
        print(
            f"[stack] {died} exited (code {next(p for p in procs if p.name == died).popen.returncode})"
            f" {RESTARTS_ALLOWED} times within {RESTART_WINDOW:.0f} s; stopping the rest",
            flush=True,
        )
    print("[stack] stopping…", flush=True)
    stop_all(procs)
    print("[stack] all stopped", flush=True)
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())
