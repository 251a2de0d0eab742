"""Benchmark: moving sessions between workers without a scan.

    python bench/failover.py --sessions K [--heartbeat 10]

K sessions are linked on worker A, with a light stream of sends (2 a second)
running throughout. Then:

1. ``drain_s``: worker B starts, A is drained -> every session connected on B;
2. ``failover_s``: A is back (drain cancelled), B's machine dies (SIGKILL of the
   worker and its Chromium) -> every session connected on A. The goal is three
   missed heartbeats plus 10 s (``failover_goal_s``);
3. ``restart_restore_s``: A is stopped with SIGTERM and started again -> every
   session connected again (from the worker's start).

Prints one JSON object with those times, ``lost`` and ``duplicated`` (every
accepted message checked in the simulator's inboxes). Run it alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
from _stack import BenchStack, bench_stack


class Stream:
    """Two sends a second, round-robin, from a thread; remembers what was accepted."""

    def __init__(self, stack: BenchStack, api: httpx.Client, sessions: list[str]) -> None:
        self.stack, self.api, self.sessions = stack, api, sessions
        self.accepted: dict[str, str] = {}  # text -> recipient
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            session_id = self.sessions[n % len(self.sessions)]
            text, to = f"fo-{n}-{time.monotonic_ns()}", f"1599{n % len(self.sessions):07d}"
            try:
                response = self.api.post(f"/v1/sessions/{session_id}/messages", json={"to": to, "text": text})
                if response.status_code == 202:
                    self.accepted[text] = to
            except httpx.HTTPError:
                pass
            n += 1
            time.sleep(0.5)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def check(self, timeout: float) -> tuple[int, int]:
        """(lost, duplicated) once every accepted text arrived or the timeout passed."""
        deadline = time.time() + timeout
        while True:
            counts: Counter = Counter()
            for recipient in set(self.accepted.values()):
                for message in httpx.get(f"{self.stack.sim_url}/phone/{recipient}/inbox", timeout=30).json():
                    if message.get("text") in self.accepted:
                        counts[message["text"]] += 1
            lost = len(self.accepted) - len(counts)
            if lost == 0 or time.time() > deadline:
                return lost, sum(1 for n in counts.values() if n > 1)
            time.sleep(2)


def all_connected_on(api: httpx.Client, sessions: list[str], worker_id: str, timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        bodies = [api.get(f"/v1/sessions/{s}").json() for s in sessions]
        if all(b["status"] == "connected" and b["worker"] == worker_id for b in bodies):
            return round(time.monotonic() - began, 2)
        time.sleep(0.25)
    where = Counter((b["status"], b["worker"]) for b in bodies)
    raise SystemExit(f"sessions not all connected on {worker_id} within {timeout} s: {dict(where)}")


def all_reconnected_since(api: httpx.Client, sessions: list[str], since: float, timeout: float) -> float:
    """Seconds from ``since`` until every session recorded a new ``connected`` (a graceful
    restart publishes no status on the way down, so the status alone says nothing)."""
    from datetime import datetime

    def fresh(session_id: str) -> bool:
        latest = api.get(f"/v1/sessions/{session_id}/events?limit=1").json()["results"][0]
        at = datetime.fromisoformat(latest["created_at"].replace("Z", "+00:00")).timestamp()
        return latest["to_status"] == "connected" and at >= since

    while time.time() - since < timeout:
        if all(fresh(s) for s in sessions):
            return round(time.time() - since, 2)
        time.sleep(0.25)
    raise SystemExit(f"sessions not all reconnected within {timeout} s")


def phases(api: httpx.Client, sessions: list[str], since: float) -> dict[str, float]:
    """Where a failover's time went: ``detect_s`` (crash -> first session marked
    ``reconnecting``, i.e. the worker declared lost) and ``restore_s`` (from then until
    the last session is ``connected`` again)."""
    from datetime import datetime

    def at(entry: dict) -> float:
        return datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00")).timestamp()

    lost_at, connected_at = [], []
    for session_id in sessions:
        history = api.get(f"/v1/sessions/{session_id}/events?limit=10").json()["results"]
        fresh = [e for e in history if at(e) >= since]
        lost_at += [at(e) for e in fresh if e["to_status"] == "reconnecting"]
        connected_at += [at(e) for e in fresh if e["to_status"] == "connected"]
    first_lost = min(lost_at)
    return {"detect_s": round(first_lost - since, 2), "restore_s": round(max(connected_at) - first_lost, 2)}


def crash(worker) -> None:  # type: ignore[no-untyped-def]
    doomed = worker.descendants()
    worker.kill()
    for process in doomed:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--heartbeat", type=int, default=10)
    parser.add_argument("--start-concurrency", default="2")
    parser.add_argument("--keep-logs", action="store_true", help="keep the stack's logs (path on stderr)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-failover-")
    if args.keep_logs:
        print(f"logs: {tmp}", file=sys.stderr)
    try:
        run(args, Path(tmp))
    finally:
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    with bench_stack(tmp, heartbeat=args.heartbeat, DRAIN_CONCURRENCY="4") as stack:
        extra = {"START_CONCURRENCY": args.start_concurrency}
        a = stack.add_worker("a", capacity=args.sessions, **extra)
        api, operator = stack.customer(), stack.operator()
        sessions = [stack.link(api, f"s{n}", f"1598{n:07d}") for n in range(args.sessions)]
        for n in range(len(sessions)):
            httpx.get(f"{stack.sim_url}/phone/1599{n:07d}/inbox")  # recipients online
        time.sleep(3)  # snapshots after linking
        stream = Stream(stack, api, sessions)
        stream.start()
        b = stack.add_worker("b", capacity=args.sessions, **extra)

        began = time.monotonic()
        operator.post(f"/v1/workers/{a.worker_id}/drain")
        all_connected_on(api, sessions, b.worker_id, 900)
        drain_s = round(time.monotonic() - began, 2)
        operator.post(f"/v1/workers/{a.worker_id}/drain/cancel")
        time.sleep(max(3, args.heartbeat))  # A heartbeats as online again; B took fresh snapshots

        crashed = time.time()
        crash(b)
        failover_s = all_connected_on(api, sessions, a.worker_id, 900)
        failover_phases = phases(api, sessions, crashed)

        a.terminate()
        restarted = time.time()
        a.start()
        restart_restore_s = all_reconnected_since(api, sessions, restarted, 900)

        time.sleep(5)
        stream.stop()
        lost, duplicated = stream.check(300)
        print(
            json.dumps(
                {
                    "sessions": args.sessions,
                    "heartbeat_interval_s": args.heartbeat,
                    "drain_s": drain_s,
                    "failover_s": failover_s,
                    "failover_goal_s": 3 * args.heartbeat + 10,
                    **{f"failover_{name}": value for name, value in failover_phases.items()},
                    "restart_restore_s": restart_restore_s,
                    "messages_accepted": len(stream.accepted),
                    "lost": lost,
                    "duplicated": duplicated,
                }
            )
        )


if __name__ == "__main__":
    main()
