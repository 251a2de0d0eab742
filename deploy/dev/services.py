"""Make sure what the stack needs is there: Chromium, Redis, PostgreSQL.

Used by ``make test`` (PostgreSQL required) and ``make run`` (PostgreSQL if it
answers, else SQLite). For each dependency: use it if it answers; else start a
local one (installing Debian's package with apt-get when root and missing);
else print ONE line saying what is missing and how to get it, and exit 1.

Prints ``KEY=value`` lines on stdout for the caller to export
(``DATABASE_URL``, ``REDIS_URL``); everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("WAGATE_DATA_DIR", ROOT / ".wagate"))
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Missing(Exception):
    """A dependency that cannot be provided here; the message is the one line to print."""


def say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(host, port):
            return True
        time.sleep(0.2)
    return False


def is_root() -> bool:
    return os.geteuid() == 0


_apt_updated = False


def apt_install(*packages: str) -> bool:
    """Install Debian packages when we are root and apt-get exists; False otherwise."""
    global _apt_updated
    if not (is_root() and shutil.which("apt-get")):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing {' '.join(packages)} with apt-get")
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
        _apt_updated = True
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages], env=env, stdout=subprocess.DEVNULL, check=False
    )
    return done.returncode == 0


def ensure_chromium() -> None:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if Path(path).exists():
        return
    if apt_install("chromium") and Path(path).exists():
        return
    raise Missing(
        f"chromium is missing at {path}: run 'sudo apt-get install -y chromium' (or set CHROMIUM_PATH)"
    )


def ensure_redis(url: str) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if answers(host, port):
        return url
    if host not in LOCAL_HOSTS:
        raise Missing(f"Redis at {host}:{port} does not answer: start it or set REDIS_URL")
    if not shutil.which("redis-server") and not apt_install("redis-server"):
        raise Missing("redis-server is missing: run 'sudo apt-get install -y redis-server' or set REDIS_URL")
    say(f"starting redis-server on {host}:{port}")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(DATA),
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    if not wait_for(host, port, 10):
        raise Missing(f"redis-server did not start on port {port}: see its log, or set REDIS_URL")
    return url


def _postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root; run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if is_root() else cmd


def start_private_postgres(port: int) -> None:
    """A trust-auth cluster of our own in .wagate/postgres (no system config touched)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise Missing("PostgreSQL is missing: run 'sudo apt-get install -y postgresql' or set DATABASE_URL")
    datadir = DATA / "postgres"
    DATA.mkdir(parents=True, exist_ok=True)
    if is_root():
        datadir.mkdir(exist_ok=True)
        shutil.chown(datadir, "postgres", "postgres")
    if not (datadir / "PG_VERSION").exists():
        say(f"creating a local PostgreSQL cluster in {datadir}")
        subprocess.run(
            _as_postgres_user([initdb, "-D", str(datadir), "-A", "trust", "-U", "postgres"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    say(f"starting PostgreSQL on 127.0.0.1:{port}")
    options = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres_user(
            [pg_ctl, "-D", str(datadir), "-o", options, "-l", str(datadir / "server.log"), "-w", "start"]
        ),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def ensure_postgres(url: str, *, required: bool) -> str | None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5432
    if answers(host, port):
        return url
    if not required:
        return None
    if host not in LOCAL_HOSTS:
        raise Missing(f"PostgreSQL at {host}:{port} does not answer: start it or set DATABASE_URL")
    if not _postgres_bin("initdb"):
        apt_install("postgresql")
        if wait_for(host, port, 5):  # Debian's package may start its own cluster
            return url
    start_private_postgres(port)
    if not wait_for(host, port, 20):
        raise Missing(f"PostgreSQL did not start on port {port}: see .wagate/postgres/server.log")
    return url


def ensure_database(url: str) -> None:
    """Create the database named in the URL if the server lacks it."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                say(f"creating database {name}")
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise Missing(
            f"cannot use PostgreSQL at {parsed.hostname}:{parsed.port}: {exc}".splitlines()[0]
        ) from exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--for", dest="purpose", choices=["test", "run"], required=True)
    parser.add_argument("--no-chromium", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    try:
        if not args.no_chromium:
            ensure_chromium()
        redis_url = ensure_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        default_db = "postgres://postgres@127.0.0.1:5432/wagate"
        db_url = ensure_postgres(
            os.environ.get("DATABASE_URL", default_db),
            required=args.purpose == "test" or "DATABASE_URL" in os.environ,
        )
        if db_url:
            ensure_database(db_url)
        else:
            say("no PostgreSQL answers on 127.0.0.1:5432: using the embedded SQLite database")
            db_url = f"sqlite:///{DATA / 'db.sqlite3'}"
    except Missing as missing:
        print(f"missing: {missing}", file=sys.stderr)
        return 1
    print(f"DATABASE_URL={db_url}")
    print(f"REDIS_URL={redis_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
