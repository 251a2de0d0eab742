"""The one load-balancing score: which worker should take the next session.

Pure functions over a snapshot of a worker's state, so the choice can be shown
in table-driven tests. A worker that is not ``online``, is full, or whose
heartbeat is stale is never eligible; among the rest the highest score wins.
"""

from __future__ import annotations

from dataclasses import dataclass

# Weights of the score's terms; free capacity dominates, the rest break ties
# between workers with similar room.
WEIGHT_FREE = 0.50
WEIGHT_CPU = 0.20
WEIGHT_MEMORY = 0.15
WEIGHT_STARTING = 0.10
WEIGHT_FAILURES = 0.05
FAILURES_SATURATE = 5  # this many recent failures cost the whole failure weight


@dataclass(frozen=True)
class WorkerLoad:
    worker_id: str
    status: str
    capacity: int
    assigned: int  # sessions routed to it (the database's count)
    cpu_percent: float = 0.0
    memory_percent: float = 0.0
    starting: int = 0  # sessions connecting or waiting for a scan: start-up costs CPU
    recent_failures: int = 0
    heartbeat_fresh: bool = True

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.assigned)


def ineligibility(load: WorkerLoad) -> str | None:
    """Why this worker may not take a session, or None if it may."""
    if load.status != "online":
        return f"status is {load.status}"
    if not load.heartbeat_fresh:
        return "heartbeat is stale"
    if load.capacity <= 0 or load.free <= 0:
        return "full"
    return None


def score(load: WorkerLoad) -> float:
    """Higher is better; only meaningful for eligible workers."""
    free_ratio = load.free / load.capacity
    cpu_room = 1 - min(max(load.cpu_percent, 0.0), 100.0) / 100
    memory_room = 1 - min(max(load.memory_percent, 0.0), 100.0) / 100
    starting_room = 1 - min(load.starting, load.capacity) / load.capacity
    failure_cost = min(load.recent_failures, FAILURES_SATURATE) / FAILURES_SATURATE
    return (
        WEIGHT_FREE * free_ratio
        + WEIGHT_CPU * cpu_room
        + WEIGHT_MEMORY * memory_room
        + WEIGHT_STARTING * starting_room
        - WEIGHT_FAILURES * failure_cost
    )


def rank(loads: list[WorkerLoad]) -> list[WorkerLoad]:
    """Eligible workers, best first (ties broken by id for stable choices)."""
    eligible = [load for load in loads if ineligibility(load) is None]
    return sorted(eligible, key=lambda load: (-score(load), load.worker_id))
