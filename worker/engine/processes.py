"""Chromium's processes: finding a session's tree, measuring it, freezing it, reaping it.

Each Chromium starts ``chrome_crashpad_handler`` processes that leave the
process tree and linger as zombies once the browser exits. A worker that
marks itself a child subreaper (Linux) inherits those orphans and reaps
them with :func:`reap_zombies`; only Chromium's own processes are reaped,
never the Playwright driver (asyncio waits on that one).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil

log = logging.getLogger(__name__)
PR_SET_CHILD_SUBREAPER = 36
REAPABLE_NAMES = ("chromium", "chrome", "chrome_crashpad", "chrome_crashpad_handler", "headless_shell")


def enable_subreaper() -> bool:
    """Make this process inherit orphaned descendants (Linux only); True if it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_zombies() -> int:
    """Reap zombie Chromium children of this process; returns how many."""
    reaped = 0
    for child in psutil.Process().children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE or not child.name().startswith(REAPABLE_NAMES):
                continue
            os.waitpid(child.pid, os.WNOHANG)
            reaped += 1
        except (psutil.Error, ChildProcessError):
            continue
    return reaped


def _profile_arg(proc: psutil.Process) -> str | None:
    with contextlib.suppress(psutil.Error):
        for arg in proc.cmdline():
            if arg.startswith("--user-data-dir="):
                return str(arg.split("=", 1)[1])
            if arg.startswith("--database="):  # crashpad: <profile>/.crashpad/chromium/Crash Reports
                return str(arg.split("=", 1)[1])
    return None


def _belongs(proc: psutil.Process, wanted: str) -> bool:
    path = _profile_arg(proc)
    return path is not None and (path == wanted or path.startswith(wanted + os.sep))


def find_browser_pid(profile_dir: Path) -> int | None:
    """The main Chromium process using ``profile_dir``: a child of the Playwright driver,
    itself a child of this process. One pass over the process table: asking each child
    for its own children would rescan it per child, and the worker has one crashpad
    handler per session among its children (that cost ~0.2 s of CPU per launch at K=20)."""
    wanted = str(profile_dir.resolve())
    children = _children_map()
    me = os.getpid()
    near = [grandchild for child in children.get(me, ()) for grandchild in children.get(child, ())]
    deep = _descendants(children, me)  # a fallback only
    for candidates in (near, deep):
        for pid in candidates:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                cmdline = proc.cmdline()
                if not any(a.startswith("--type=") for a in cmdline) and _profile_arg(proc) == wanted:
                    return pid
    return None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc.pid)
    return children


def _descendants(children: dict[int, list[int]], root: int) -> list[int]:
    found, queue = [], list(children.get(root, ()))
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def browser_tree(main_pid: int | None, profile_dir: Path) -> list[int]:
    """The main process, its descendants, and the profile's crashpad handlers.

    Crashpad handlers leave Chromium's tree; with the subreaper on they are direct
    children of this process, recognised by their per-profile database path.
    """
    pids: list[int] = []
    if main_pid is not None:
        with contextlib.suppress(psutil.Error):
            main = psutil.Process(main_pid)
            pids = [main.pid, *(p.pid for p in main.children(recursive=True))]
    wanted = str(profile_dir.resolve())
    for proc in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            ours = proc.name().startswith("chrome_crashpad") and _belongs(proc, wanted)
            if ours and proc.pid not in pids and proc.status() != psutil.STATUS_ZOMBIE:
                pids.append(proc.pid)
    return pids


def pss_mb(pids: Iterable[int]) -> float:
    """Proportional set size of ``pids`` in MB (shared pages split between sharers)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_full_info().pss
    return total / (1024 * 1024)


@contextlib.contextmanager
def frozen(pids: Iterable[int]) -> Iterator[list[int]]:
    """SIGSTOP ``pids`` for the duration of the block, SIGCONT after, whatever happens.

    While stopped nothing writes to the profile, so files copied meanwhile are
    a point-in-time image, as consistent as after a crash (LevelDB and SQLite
    recover from exactly that).
    """
    stopped: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield stopped
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)


def running(pids: Iterable[int]) -> list[int]:
    """The pids that still exist and are not zombies."""
    alive = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
    return alive


def kill_tree(pids: Iterable[int]) -> None:
    """SIGKILL every pid (used by tests and as the last resort of a hung close)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
