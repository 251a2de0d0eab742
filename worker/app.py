"""The worker process: one asyncio program with a start, a run and a stop.

start: the Playwright driver, one httpx client, registration, Redis, the
       ADB controller (if enabled), heartbeats, then recovery;
run:   the heartbeat loop, the command loop and the snapshot loop;
stop:  on SIGTERM/SIGINT: stop taking commands (running ones get a few
       seconds), snapshot the linked sessions (bounded), close every
       Chromium, send a last heartbeat, exit 0. A second signal exits at once.

A background loop that dies of a bug stops the worker (exit 1) rather than
leaving it half alive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import httpx
import psutil
from playwright.async_api import Playwright, async_playwright

from worker import __version__
from worker.clients.control_plane import ControlPlaneClient, Registration
from worker.dispatch import CommandLoop
from worker.engine import EngineError, enable_subreaper, reap_zombies
from worker.errors import RedisUnavailable, RetryableError, WorkerError
from worker.handlers import HandlerContext
from worker.heartbeat import Heartbeat
from worker.outbox import Outbox
from worker.recovery import Recovery
from worker.resources import kill_leftover_browsers
from worker.runner import SessionRunner
from worker.sessions import LiveSession, SessionRegistry
from worker.settings import WorkerSettings
from worker.snapshots import SnapshotService, resolve_key
from worker.transport import Transport

if TYPE_CHECKING:
    from worker.adb import AdbController

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
LAST_HEARTBEAT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 30.0  # closing every Chromium at shutdown (each flushes its profile)


class WorkerApp:
    """The worker's lifecycle (see the module docstring)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.exit_code = 0
        self._stopping = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._playwright: Playwright | None = None
        self._transport: Transport | None = None
        self._adb: AdbController | None = None
        self._snapshots: SnapshotService | None = None
        self._runner: SessionRunner | None = None
        self._heartbeat: Heartbeat | None = None
        self._commands: CommandLoop | None = None
        self.registry = SessionRegistry(settings.capacity)

    # -- lifecycle -----------------------------------------------------------------
    async def run(self) -> int:
        """Start, serve until a stop signal (or a fatal error), stop; returns the exit code."""
        enable_subreaper()  # Chromium's crashpad handlers are re-parented here and reaped
        await self._start_playwright()
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._on_signal, signum)
        starter = asyncio.create_task(self._start(), name="start")
        stopper = asyncio.create_task(self._stopping.wait(), name="stop-wait")
        await asyncio.wait({starter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not starter.done():
            starter.cancel()
        try:
            await starter
        except asyncio.CancelledError:
            log.info("stopped while starting")
        except (WorkerError, EngineError) as exc:  # e.g. the enrollment token was refused
            log.error("the worker could not start: %s", exc)
            self.exit_code = 1
        except Exception:
            log.exception("the worker could not start")
            self.exit_code = 1
        else:
            await self._stopping.wait()
        stopper.cancel()
        await self._stop()
        return self.exit_code

    async def _start_playwright(self) -> None:
        # Node resets inherited signal dispositions, so the driver is started in its own
        # session instead: a SIGINT/SIGTERM sent to this worker's whole process group
        # (Ctrl-C in a terminal, `make run` stopping) then reaches only this process and
        # cannot kill the driver, and every Chromium with it, before the snapshots are
        # taken. Playwright offers no option for it, hence the brief patch (nothing else
        # spawns processes at this point). A killed worker still takes the driver down: it
        # exits when its stdin pipe closes and its browsers are gone (a browser left frozen
        # by a snapshot is killed by the next start, see kill_leftover_browsers).
        original = asyncio.create_subprocess_exec

        async def spawn(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
            kwargs.setdefault("start_new_session", True)
            return await original(*args, **kwargs)

        asyncio.create_subprocess_exec = spawn
        try:
            self._playwright = await async_playwright().start()
        finally:
            asyncio.create_subprocess_exec = original

    async def _start(self) -> None:
        s = self.settings
        kill_leftover_browsers(s.sessions_dir)
        s.sessions_dir.mkdir(parents=True, exist_ok=True)
        key = resolve_key(s)
        self._http = httpx.AsyncClient(base_url=s.control_plane_url, timeout=httpx.Timeout(15.0, connect=5.0))
        client = ControlPlaneClient(self._http, s, __version__)
        registration = await client.register()
        self._transport = Transport(s.redis_url, registration.worker_id)
        outbox = Outbox(self._transport, self._stopping)
        self._adb = await self._start_adb()
        self._snapshots = SnapshotService(client, outbox, key, s.snapshot_interval)
        self._build(client, registration, outbox)
        assert self._heartbeat is not None and self._runner is not None
        self._spawn("heartbeat", self._heartbeat.run())
        await self._wait_for_redis()
        await self._recover(client, registration)
        ctx = HandlerContext(
            settings=s,
            registry=self.registry,
            runner=self._runner,
            snapshots=self._snapshots,
            outbox=outbox,
            http=self._http,
            adb=self._adb,
        )
        self._commands = CommandLoop(self._transport, ctx)
        self._spawn("commands", self._commands.run())
        self._spawn("snapshots", self._snapshots.periodic(self.registry))
        log.info(
            "worker %s ready: capacity %d, %d session(s) running, commands on %s",
            registration.worker_id,
            s.capacity,
            len(self.registry),
            self._transport.stream,
        )

    def _build(self, client: ControlPlaneClient, registration: Registration, outbox: Outbox) -> None:
        """The session runner and the heartbeat, once registered."""
        assert self._playwright is not None and self._snapshots is not None
        self._runner = SessionRunner(
            registry=self.registry,
            playwright=self._playwright,
            engine=self.settings.engine_config(),
            outbox=outbox,
            snapshots=self._snapshots,
            start_concurrency=self.settings.start_concurrency,
        )
        self._heartbeat = Heartbeat(
            client=client,
            registry=self.registry,
            capacity=self.settings.capacity,
            version=__version__,
            interval=registration.heartbeat_interval,
            override=self.settings.heartbeat_interval,
            adb=self._adb,
        )

    async def _start_adb(self) -> AdbController | None:
        if not self.settings.adb_enabled:
            return None
        from dataclasses import replace

        from worker.adb import AdbController, AdbSettings

        adb_settings = AdbSettings.from_env()
        if not os.environ.get("WAGATE_ADB_DATA_DIR"):
            adb_settings = replace(adb_settings, data_dir=self.settings.data_dir / "adb")
        controller = AdbController(adb_settings)
        await controller.start()
        log.info("ADB controller started (%d device(s))", len(controller.devices()))
        return controller

    async def _wait_for_redis(self) -> None:
        assert self._transport is not None
        for attempt in range(1, 1_000_000):
            try:
                await self._transport.ensure_group()
                return
            except RedisUnavailable as exc:
                delay = min(30.0, 0.5 * 2**attempt)
                log.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _recover(self, client: ControlPlaneClient, registration: Registration) -> None:
        if not registration.recovery_required:
            return
        assert self._runner is not None
        recovery = Recovery(
            client=client, registry=self.registry, runner=self._runner, settings=self.settings
        )
        for attempt in range(1, 1_000_000):
            try:
                await recovery.run()
                return
            except RetryableError as exc:
                delay = min(30.0, 2.0 * attempt)
                log.warning("recovery could not reach the control plane (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)

    # -- stopping ------------------------------------------------------------------
    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self._stopping.is_set():
            log.info("%s: stopping gracefully (send it again to exit at once)", name)
            self._stopping.set()
            return
        log.warning("%s again: exiting now", name)
        _kill_descendants()
        os._exit(1)

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping.is_set():
            return
        exc = task.exception()
        log.error("the %s loop ended unexpectedly; stopping the worker", task.get_name(), exc_info=exc)
        self.exit_code = 1
        self._stopping.set()

    async def _cancel(self, *names: str) -> None:
        tasks = [self._tasks.pop(n) for n in names if n in self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _stop(self) -> None:
        """Stop intake, drain, snapshot, close browsers, last heartbeat, release everything."""
        self._stopping.set()
        budget = self.settings.shutdown_timeout
        began = time.monotonic()
        await self._cancel("commands", "snapshots")
        if self._commands is not None:
            await self._commands.drain(min(10.0, budget / 4))
        lives = self.registry.all()
        if self._snapshots is not None and lives:
            remaining = max(1.0, budget - (time.monotonic() - began))
            stored = await self._snapshots.upload_all(lives, remaining * 0.7)
            log.info("shutdown: %d snapshot(s) stored", stored)
        if self._runner is not None and lives:
            await self._close_sessions(self._runner, lives)
        await self._cancel("heartbeat")
        if self._heartbeat is not None:
            try:
                await asyncio.wait_for(self._heartbeat.beat(), LAST_HEARTBEAT_TIMEOUT)
            except (TimeoutError, WorkerError) as exc:
                log.warning("last heartbeat not sent: %s", exc or "timeout")
        await self._release()
        log.info("stopped in %.1fs", time.monotonic() - began)

    async def _close_sessions(self, runner: SessionRunner, lives: list[LiveSession]) -> None:
        # Silenced: the sessions are not stopped for their owners; this worker (or, after
        # failover, another) restores them, so no "disconnected" status is published.
        tasks = [asyncio.create_task(runner.close(live, silence=True)) for live in lives]
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        if pending:
            log.warning("shutdown: %d browser(s) did not close in time; killing them", len(pending))
            _kill_descendants(browsers_only=True)
            _, pending = await asyncio.wait(pending, timeout=CLOSE_TIMEOUT / 3)
            for task in pending:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for live, result in zip(lives, results, strict=True):
            if isinstance(result, Exception):
                log.warning("shutdown: closing %s failed: %s", live.session_id, result)

    async def _release(self) -> None:
        if self._snapshots is not None:
            await self._snapshots.aclose()
        if self._adb is not None:
            await self._adb.aclose()
        if self._playwright is not None:
            await self._playwright.stop()
        if self._transport is not None:
            await self._transport.aclose()
        if self._http is not None:
            await self._http.aclose()
        reap_zombies()


def _kill_descendants(*, browsers_only: bool = False) -> None:
    """SIGKILL this process's descendants (all, or just Chromium's); best effort."""
    for proc in psutil.Process().children(recursive=True):
        try:
            if browsers_only and not proc.name().startswith(("chrom", "headless_shell")):
                continue
            proc.kill()
        except psutil.Error:
            continue
