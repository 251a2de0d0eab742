"""CPU and memory of the worker's process tree, and of each session's Chromium.

Memory is PSS (shared pages split between the processes sharing them), so
per-session figures add up to the tree's total instead of counting
Chromium's shared libraries once per process. CPU is measured between two
calls (psutil needs the previous sample): the first heartbeat reports 0.

Also: killing Chromium processes a previous run of this worker left behind
(after a SIGKILL) that still hold its profiles locked.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)
MB = 1024 * 1024


@dataclass(frozen=True)
class SessionUsage:
    session_id: str
    memory_mb: float
    cpu_percent: float  # of one core, like top


@dataclass(frozen=True)
class Usage:
    """One measurement of the worker tree."""

    cpu_percent: float  # of the whole machine (100 = every core busy)
    memory_mb: float
    memory_percent: float
    process_count: int
    sessions: list[SessionUsage] = field(default_factory=list)


class ResourceMonitor:
    """Measures this process and all its descendants; keeps processes between calls for CPU deltas."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._known: dict[int, psutil.Process] = {self._me.pid: self._me}
        self._me.cpu_percent(None)

    def measure(self, session_pids: dict[str, list[int]]) -> Usage:
        """Blocking (reads /proc): call it in a thread."""
        tree = [self._me, *self._me.children(recursive=True)]
        cpu: dict[int, float] = {}
        memory: dict[int, float] = {}
        alive: dict[int, psutil.Process] = {}
        for proc in tree:
            known = self._known.get(proc.pid)
            proc = known if known is not None and known.is_running() else proc
            with contextlib.suppress(psutil.Error):
                cpu[proc.pid] = proc.cpu_percent(None)  # 0.0 on a process's first sample
                memory[proc.pid] = _memory(proc)
                alive[proc.pid] = proc
        self._known = alive
        total_mb = sum(memory.values()) / MB
        cores = psutil.cpu_count() or 1
        sessions = [
            SessionUsage(
                session_id=session_id,
                memory_mb=round(sum(memory.get(pid, 0.0) for pid in pids) / MB, 1),
                cpu_percent=round(sum(cpu.get(pid, 0.0) for pid in pids), 1),
            )
            for session_id, pids in session_pids.items()
        ]
        return Usage(
            cpu_percent=round(min(100.0, sum(cpu.values()) / cores), 1),
            memory_mb=round(total_mb, 1),
            memory_percent=round(min(100.0, 100.0 * total_mb * MB / psutil.virtual_memory().total), 2),
            process_count=len(alive),
            sessions=sessions,
        )


def _memory(proc: psutil.Process) -> float:
    try:
        return float(proc.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return float(proc.memory_info().rss)


def kill_leftover_browsers(sessions_dir: Path) -> int:
    """SIGKILL Chromium processes (and their crashpad handlers) whose profile is under
    ``sessions_dir``: left by a killed run of this worker, they keep the profile locked
    (Chromium refuses to open it twice), and if the run died during a snapshot they are
    still frozen (SIGSTOP) and would never go away on their own."""
    root = str(sessions_dir.resolve()) + "/"
    me, killed = os.getpid(), 0
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != me and _uses_profile_under(proc.info["cmdline"] or [], root):
                proc.kill()
                killed += 1
    if killed:
        log.warning("killed %d Chromium process(es) a previous run left on %s", killed, sessions_dir)
    return killed


def _uses_profile_under(cmdline: list[str], root: str) -> bool:
    for arg in cmdline:
        # Chromium itself: --user-data-dir=<profile>; crashpad: --database=<profile>/Crash Reports
        if arg.startswith(("--user-data-dir=", "--database=")) and arg.split("=", 1)[1].startswith(root):
            return True
    return False
