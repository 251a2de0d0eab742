"""One session's Chromium: a persistent profile directory, its page, its processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Playwright, Route
from playwright.async_api import Error as PlaywrightError

from shared.types import ProxySpec
from worker.engine import processes
from worker.engine.config import EngineConfig, Timeouts
from worker.engine.errors import LaunchError, PageError
from worker.engine.launch import launch_options

log = logging.getLogger(__name__)
# What a session never needs to see: images (profile pictures, previews), fonts, audio/video.
BLOCKED_TYPES = frozenset({"image", "media", "font"})


class BrowserSession:
    """A launched persistent context and its first page.

    ``on_gone(reason)`` is called once if the browser dies or the page
    crashes or closes without :meth:`close` being called.
    """

    def __init__(
        self,
        context: BrowserContext,
        page: Page,
        profile_dir: Path,
        timeouts: Timeouts,
        on_gone: Callable[[str], None],
    ):
        self.context = context
        self.timeouts = timeouts
        self.page = page
        self.profile_dir = profile_dir
        self._on_gone = on_gone
        self._closing = False
        self._gone = False
        self.main_pid = processes.find_browser_pid(profile_dir)
        context.on("close", lambda _: self._gone_once("browser_closed"))
        page.on("crash", lambda _: self._gone_once("page_crashed"))
        page.on("close", lambda _: self._gone_once("page_closed"))

    @classmethod
    async def launch(
        cls,
        playwright: Playwright,
        profile_dir: Path,
        config: EngineConfig,
        proxy: ProxySpec | None,
        on_gone: Callable[[str], None],
    ) -> BrowserSession:
        """Start Chromium on ``profile_dir`` (created if missing) with the session's options."""
        await asyncio.to_thread(profile_dir.mkdir, parents=True, exist_ok=True)
        launching = asyncio.ensure_future(
            playwright.chromium.launch_persistent_context(
                str(profile_dir), **launch_options(config, proxy, profile_dir)
            )
        )
        try:
            context = await asyncio.shield(launching)
        except asyncio.CancelledError:
            # The driver goes on launching regardless: wait for it and close what it made,
            # or a Chromium nobody holds would keep the profile locked.
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await (await asyncio.wait_for(launching, config.timeouts.launch)).close()
            raise
        except PlaywrightError as exc:
            raise LaunchError(f"Chromium did not start: {exc.message.splitlines()[0]}") from exc
        try:
            if config.block_media:
                await context.route("**/*", _block_media)
            page = context.pages[0] if context.pages else await context.new_page()
        except (PlaywrightError, asyncio.CancelledError) as exc:
            with contextlib.suppress(PlaywrightError):
                await context.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise LaunchError(f"Chromium started but has no page: {exc.message}") from exc
        return cls(context, page, profile_dir, config.timeouts, on_gone)

    def _gone_once(self, reason: str) -> None:
        if self._closing or self._gone:
            return
        self._gone = True
        self._on_gone(reason)

    @property
    def alive(self) -> bool:
        return not (self._closing or self._gone)

    async def open(self, url: str) -> None:
        """Navigate the page to WhatsApp Web."""
        try:
            await self.page.goto(url, wait_until="domcontentloaded", timeout=self.timeouts.navigation * 1000)
        except PlaywrightError as exc:
            raise PageError(f"could not open {url}: {exc.message.splitlines()[0]}") from exc

    async def reload(self) -> None:
        try:
            await self.page.reload(wait_until="domcontentloaded", timeout=self.timeouts.navigation * 1000)
        except PlaywrightError as exc:
            raise PageError(f"reload failed: {exc.message.splitlines()[0]}") from exc

    async def trim_memory(self) -> None:
        """Ask the renderer to collect garbage and drop caches, as under memory pressure."""
        try:
            cdp = await self.context.new_cdp_session(self.page)
            try:
                await cdp.send("HeapProfiler.collectGarbage")
                await cdp.send("Memory.simulatePressureNotification", {"level": "critical"})
            finally:
                await cdp.detach()
        except PlaywrightError as exc:
            raise PageError(f"memory trim failed: {exc.message}") from exc

    def pids(self) -> list[int]:
        """Every process of this browser (main, zygotes, renderers, utilities, crashpad)."""
        if self.main_pid is None:
            self.main_pid = processes.find_browser_pid(self.profile_dir)
        return processes.browser_tree(self.main_pid, self.profile_dir)

    async def close(self) -> None:
        """Close Chromium (flushing the profile); kill it if it does not go in time."""
        self._closing = True
        pids = self.pids()
        try:
            await asyncio.wait_for(self.context.close(), self.timeouts.close)
        except (PlaywrightError, TimeoutError) as exc:
            if not self._gone:  # a browser that already died cannot close cleanly; no news
                log.warning("Chromium did not close cleanly (%s); killing it", exc)
            processes.kill_tree(pids)
        await wait_and_reap(pids)


async def wait_and_reap(pids: list[int], within: float = 3.0) -> None:
    """Wait (briefly) for the browser's processes to exit, reaping the ones we inherited."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        processes.reap_zombies()
        if not processes.running(pids) or asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


async def _block_media(route: Route, *_: Any) -> None:
    with contextlib.suppress(PlaywrightError):
        if route.request.resource_type in BLOCKED_TYPES:
            await route.abort("blockedbyclient")
        else:
            await route.fallback()
