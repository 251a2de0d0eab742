"""A session's Chromium goes through its proxy, credentials in Playwright's fields."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from shared.types import MessageKind, ProxySpec, SessionStatus
from tests.worker.engine.conftest import link_by_qr
from tests.worker.engine.proxy import CountingProxy

pytestmark = pytest.mark.browser


async def test_session_traffic_goes_through_its_authenticated_proxy(
    session_factory, phone, number, simulator
):
    proxy = CountingProxy("wagate", "s3cret")
    server = await proxy.start()
    try:
        session = await session_factory(proxy=ProxySpec(server=server, username="wagate", password="s3cret"))
        me = number()
        await link_by_qr(session, phone, me)
        await session.runtime.send(
            to=number(), kind=MessageKind.TEXT, text="via proxy", media=None, caption=None
        )
        assert session.runtime.status is SessionStatus.CONNECTED
    finally:
        await proxy.close()
    sim_host = urlsplit(simulator.url).netloc
    # The page, its websocket (a CONNECT tunnel) and the uploads all went through the proxy,
    # and only after Chromium answered the proxy's challenge with the credentials.
    assert proxy.forwarded[sim_host] >= 2
    assert proxy.challenged >= 1
