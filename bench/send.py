"""Benchmark: sending through the public API, end to end.

    python bench/send.py --sessions K --messages M

Links K sessions on the simulator (one worker), raises the rate limits (they are still
counted on every send), then:

1. throughput: M text messages from 32 concurrent clients as fast as the stack
   accepts them -> ``accepted_per_s``;
2. latency: min(M, 1000) more at a steady offered load of 100 requests a second
   (open loop) -> ``accept_ms`` {p50, p95, p99} of the 202;

and waits until every accepted message is in its recipient's simulator inbox:
``delivered_per_s``, ``end_to_end_ms`` {p50, p95, p99} (request sent -> inbox),
``lost`` (accepted, never delivered) and ``duplicated``. Prints one JSON object.

The load generator (bench/_load.py, raw HTTP/1.1) runs on the same 2 cores as the
stack: run it alone. In production the worker and its Chromium have machines of
their own; here they run at the lowest CPU priority (unless ``--worker-priority
normal``) and only on the last CPU (unless ``--worker-cpus all``): the kernel on
these VMs let "idle" Chromium delay the API's threads (docs/send-path.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
import uvloop
from _load import Connection, LoadClientError, Pool
from _stack import BenchStack, bench_stack, percentiles

RECIPIENTS_PER_SESSION = 5
Sent = dict[str, tuple[float, str]]  # text -> (request start, recipient)
Line = tuple[str, str]  # (session id, phone)


def target(lines: list[Line], n: int) -> tuple[str, str, str]:
    """Message ``n``: round-robin over sessions, a few recipients per session."""
    session_id, phone = lines[n % len(lines)]
    recipient = f"1577{phone[-4:]}{(n // len(lines)) % RECIPIENTS_PER_SESSION:03d}"
    return session_id, recipient, f"bench-{n}-{time.monotonic_ns()}"


async def send(client: Connection | Pool, lines: list[Line], n: int, sent: Sent) -> float | None:
    """One send; the accept latency in ms, or None when it was not a 202."""
    session_id, to, text = target(lines, n)
    started = time.time()
    for attempt in range(3):
        try:  # the Idempotency-Key makes a retry after a dropped connection safe
            answer = await client.post_json(
                f"/v1/sessions/{session_id}/messages",
                {"to": to, "text": text},
                headers={"Idempotency-Key": text},
            )
            break
        except LoadClientError:
            if attempt == 2:
                return None
    if answer.status != 202:
        return None
    sent[text] = (started, to)
    return (time.time() - started) * 1000


async def throughput(stack: BenchStack, key: str, lines: list[Line], messages: int, sent: Sent) -> float:
    """32 clients, each on its own keep-alive connection, as fast as answers come."""
    numbers = iter(range(messages))
    accepted = 0

    async def loop(connection: Connection) -> None:
        nonlocal accepted
        try:
            for n in numbers:
                if await send(connection, lines, n, sent) is not None:
                    accepted += 1
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(loop(Connection(stack.url, {"X-Api-Key": key})) for _ in range(32)))
    return accepted / (time.perf_counter() - began)


async def steady(
    stack: BenchStack, key: str, lines: list[Line], count: int, offset: int, sent: Sent
) -> list[float]:
    latencies: list[float] = []

    async def one(pool: Pool, n: int) -> None:
        latency = await send(pool, lines, offset + n, sent)
        if latency is not None:
            latencies.append(latency)

    pool = Pool(stack.url, {"X-Api-Key": key}, size=64)
    began = time.perf_counter()
    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, began + n / 100 - time.perf_counter()))  # 100 requests a second
        tasks.append(asyncio.create_task(one(pool, n)))
    await asyncio.gather(*tasks)
    await pool.close()
    return latencies


def delivery(stack: BenchStack, sent: Sent, timeout: float) -> dict[str, list[float]]:
    """Poll every recipient's inbox until all sent texts arrived; text -> arrival times."""
    recipients = {to for _, to in sent.values()}
    deadline = time.time() + timeout
    arrivals: dict[str, list[float]] = {}
    while time.time() < deadline:
        arrivals = {}
        for recipient in recipients:
            for message in httpx.get(f"{stack.sim_url}/phone/{recipient}/inbox", timeout=30).json():
                if message.get("text") in sent:
                    arrivals.setdefault(message["text"], []).append(float(message["received_at"]))
        if len(arrivals) == len(sent):
            break
        time.sleep(2)
    return arrivals


def speed_index() -> float:
    """Seconds for a fixed pure-Python loop: these VMs' CPU speed drifts by up to ~40 %
    between time windows, so every result carries the speed it was measured at."""
    started, total = time.perf_counter(), 0
    for n in range(5_000_000):
        total += n * n % 7
    return round(time.perf_counter() - started, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--delivery-timeout", type=float, default=900.0)
    parser.add_argument(
        "--worker-priority",
        choices=["idle", "normal"],
        default="idle",
        help="CPU priority of the worker and its Chromium. idle (default): in production they run "
        "on machines of their own, so here they get only what the control plane leaves; "
        "normal: they compete with it as equals",
    )
    parser.add_argument(
        "--worker-cpus",
        choices=["last", "all"],
        default="last",
        help="CPUs of the worker and its Chromium. last (default): only the last one, as if the "
        "worker had a machine of its own, without taking one from the stack; all: every CPU",
    )
    args = parser.parse_args()
    worker_cpus = frozenset({max(os.sched_getaffinity(0))}) if args.worker_cpus == "last" else None
    speed_before = speed_index()
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp, bench_stack(Path(tmp)) as stack:
        stack.add_worker(
            "1",
            capacity=max(args.sessions, 1),
            idle_priority=args.worker_priority == "idle",
            cpus=worker_cpus,
        )
        api = stack.customer()
        phones = [f"1588000{n:04d}" for n in range(args.sessions)]
        lines = [(stack.link(api, f"line {n}", phone), phone) for n, phone in enumerate(phones)]
        for n in range(args.sessions * RECIPIENTS_PER_SESSION):  # recipients' phones online: acks flow
            httpx.get(f"{stack.sim_url}/phone/{target(lines, n)[1]}/inbox")
        key = api.headers["X-Api-Key"]
        sent: Sent = {}
        # uvloop: the load generator shares the 2 cores with what it measures.
        accepted_per_s = uvloop.run(throughput(stack, key, lines, args.messages, sent))
        latencies = uvloop.run(steady(stack, key, lines, min(args.messages, 1000), args.messages, sent))
        arrivals = delivery(stack, sent, args.delivery_timeout)
        first = min(started for started, _ in sent.values())
        last = max((max(times) for times in arrivals.values()), default=first)
        end_to_end = [(min(times) - sent[text][0]) * 1000 for text, times in arrivals.items()]
        print(
            json.dumps(
                {
                    "sessions": args.sessions,
                    "messages": len(sent),
                    "accepted_per_s": round(accepted_per_s, 1),
                    "accept_ms": percentiles(latencies, 50, 95, 99),
                    "delivered_per_s": round(len(arrivals) / max(last - first, 1e-6), 1),
                    "end_to_end_ms": percentiles(end_to_end, 50, 95, 99),
                    "lost": len(sent) - len(arrivals),
                    "duplicated": sum(1 for times in arrivals.values() if len(times) > 1),
                    "worker_priority": args.worker_priority,
                    "worker_cpus": sorted(worker_cpus) if worker_cpus else "all",
                    "speed_index_s": {"before": speed_before, "after": speed_index()},
                    "load_generator": "bench/_load.py (uvloop, raw HTTP/1.1 keep-alive) on the same 2 cores",
                }
            )
        )


if __name__ == "__main__":
    main()
