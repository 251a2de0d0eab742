"""Build and run the simulator's aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from simulator import admin_api, pages, phone_api, sink
from simulator.config import SimulatorConfig
from simulator.hub import HUB, Hub
from simulator.ws import websocket_handler

log = logging.getLogger("simulator")
SAVE_EVERY = 1.0


def create_app(config: SimulatorConfig) -> web.Application:
    """The whole simulator as one aiohttp app (tests run it in-process)."""
    app = web.Application(client_max_size=config.max_upload_bytes)
    hub = Hub(config)
    if config.state_file is not None:
        hub.store.load_file(config.state_file)
    app[HUB] = hub
    app.router.add_get("/ws", websocket_handler)
    app.add_routes(pages.routes)
    app.add_routes(phone_api.routes)
    app.add_routes(admin_api.routes)
    sink.setup(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub: Hub = app[HUB]
    saver = asyncio.create_task(_save_loop(hub)) if hub.config.state_file else None
    yield
    if saver is not None:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
    await hub.close()
    if hub.config.state_file is not None:
        hub.store.save(hub.config.state_file)


async def _save_loop(hub: Hub) -> None:
    """Write the state file at most once a second, and only when something changed."""
    assert hub.config.state_file is not None
    while True:
        await asyncio.sleep(SAVE_EVERY)
        if hub.store.dirty:
            try:
                hub.store.save(hub.config.state_file)
            except OSError:
                log.exception("could not write the simulator state file")


def run(config: SimulatorConfig) -> None:
    """Serve until interrupted."""
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
