"""Benchmark: K linked WhatsApp sessions on the simulator, one Chromium profile each.

    python bench/engine_sessions.py --sessions K [--page-weight light|realistic|MB]

Prints one JSON object (stdout): ``sessions``, ``pss_total_mb``,
``pss_per_session_mb`` (PSS of the whole tree: this Python process, the
Playwright driver, every Chromium process; the simulator is excluded),
``start_to_qr_s`` and ``scan_to_connected_s`` ({median, p95}) and
``idle_cpu_percent_per_session``. The options below switch single memory
measures off, to show each one's effect (docs/engine.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.events import QrIssued, SessionEvent, SessionStatusChanged
from shared.types import SessionStatus
from simulator.testing import SimulatorProcess, start_simulator
from worker.engine import EngineConfig, SessionRuntime, enable_subreaper, reap_zombies

WEIGHTS = {"light": 0, "realistic": 150}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument(
        "--page-weight", default="light", help="light (0 MB), realistic (150 MB) or a number of MB"
    )
    p.add_argument("--concurrency", type=int, default=2, help="sessions starting at once (2 cores)")
    p.add_argument("--settle", type=float, default=10.0, help="seconds to let pages settle before measuring")
    p.add_argument("--cpu-window", type=float, default=10.0, help="seconds of idle CPU sampling")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--no-lean", action="store_true", help="drop the lean Chromium switches")
    p.add_argument("--no-features", action="store_true", help="keep Playwright's --disable-features only")
    p.add_argument("--no-block-media", action="store_true", help="let images, fonts and media load")
    p.add_argument("--no-js-flags", action="store_true", help="no V8 size flags")
    p.add_argument("--viewport", default="800x600")
    p.add_argument("--extra-arg", action="append", default=[], help="one more Chromium switch (repeatable)")
    p.add_argument(
        "--trim", action="store_true", help="trim every session's memory (GC + pressure) before measuring"
    )
    return p.parse_args(argv)


def engine_config(args: argparse.Namespace, sim: SimulatorProcess) -> EngineConfig:
    width, height = (int(v) for v in args.viewport.split("x"))
    config = EngineConfig(chromium_path=args.chromium, whatsapp_url=sim.url + "/", viewport=(width, height))
    return replace(
        config,
        lean=not args.no_lean,
        disable_features=() if args.no_features else config.disable_features,
        block_media=not args.no_block_media,
        js_flags="" if args.no_js_flags else config.js_flags,
        extra_args=tuple(args.extra_arg),
    )


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def measured_tree(sim: SimulatorProcess) -> list[psutil.Process]:
    """This process and its descendants, minus the simulator's subtree."""
    me = psutil.Process()
    skip = {sim.process.pid}
    try:
        skip |= {p.pid for p in psutil.Process(sim.process.pid).children(recursive=True)}
    except psutil.Error:
        pass
    return [me, *(p for p in me.children(recursive=True) if p.pid not in skip)]


def tree_pss_mb(procs: list[psutil.Process]) -> float:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / (1024 * 1024)


def tree_cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    times: dict[int, float] = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            times[proc.pid] = t.user + t.system
        except psutil.Error:
            continue
    return times


Started = tuple[float, str, AsyncIterator[SessionEvent]]


async def start_one(runtime: SessionRuntime, gate: asyncio.Semaphore) -> Started:
    """Start a session; (seconds from start() to the first QR, that QR, the event stream)."""
    async with gate:
        began = time.monotonic()
        events = aiter(runtime.events())
        await runtime.start()
        async for event in events:
            if isinstance(event, QrIssued):
                return time.monotonic() - began, event.qr, events
    raise RuntimeError(f"session {runtime.session_id} ended without a QR")


async def link_one(started: Started, phone: str, client: httpx.AsyncClient) -> float:
    """Scan the session's QR as ``phone``; seconds until it reports connected."""
    _, qr, events = started
    began = time.monotonic()
    resp = await client.post(f"/phone/{phone}/scan", json={"qr": qr})
    async for event in events:
        if resp.status_code == 410 and isinstance(event, QrIssued):
            # The code rotated while many sessions were starting: scan the next one, as a person would.
            resp = await client.post(f"/phone/{phone}/scan", json={"qr": event.qr})
        if resp.status_code != 410:
            resp.raise_for_status()
        if isinstance(event, SessionStatusChanged) and event.status is SessionStatus.CONNECTED:
            return time.monotonic() - began
    raise RuntimeError("session ended before it connected")


async def run(args: argparse.Namespace, sim: SimulatorProcess) -> dict[str, Any]:
    config = engine_config(args, sim)
    async with async_playwright() as pw, httpx.AsyncClient(base_url=sim.url, timeout=30) as client:
        with tempfile.TemporaryDirectory(prefix="wagate-bench-") as tmp:
            runtimes = [
                SessionRuntime(
                    session_id=f"bench-{i}", profile_dir=Path(tmp) / f"p{i}", playwright=pw, config=config
                )
                for i in range(args.sessions)
            ]
            gate = asyncio.Semaphore(args.concurrency)
            started = list(await asyncio.gather(*(start_one(rt, gate) for rt in runtimes)))
            # A QR may rotate before its scan; a 20 s rotation leaves ample time at these sizes.
            linked = await asyncio.gather(
                *(link_one(item, f"1999{i:07d}", client) for i, item in enumerate(started))
            )
            await asyncio.sleep(args.settle)
            if args.trim:
                await asyncio.gather(*(rt.trim_memory() for rt in runtimes))
                await asyncio.sleep(2)
            procs = measured_tree(sim)
            pss = tree_pss_mb(procs)
            before = tree_cpu_seconds(procs)
            await asyncio.sleep(args.cpu_window)
            after = tree_cpu_seconds(procs)
            cpu = sum(after[pid] - before.get(pid, 0.0) for pid in after)
            not_connected = [rt.session_id for rt in runtimes if rt.status is not SessionStatus.CONNECTED]
            await asyncio.gather(*(rt.stop() for rt in runtimes))
    reap_zombies()
    if not_connected:
        print(f"warning: not connected at the end: {not_connected}", file=sys.stderr)
    return {
        "sessions": args.sessions,
        "pss_total_mb": round(pss, 1),
        "pss_per_session_mb": round(pss / args.sessions, 1),
        "start_to_qr_s": summary([s[0] for s in started]),
        "scan_to_connected_s": summary(linked),
        "idle_cpu_percent_per_session": round(100 * cpu / args.cpu_window / args.sessions, 2),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    weight = WEIGHTS.get(args.page_weight)
    weight_mb = weight if weight is not None else int(args.page_weight)
    enable_subreaper()
    sim = start_simulator("--qr-interval", "60", "--page-weight-mb", str(weight_mb))
    try:
        result = asyncio.run(run(args, sim))
    finally:
        sim.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
