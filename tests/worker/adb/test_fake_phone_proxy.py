"""The fake phone proxy is a real HTTP proxy: later end-to-end tests send a browser through it."""

from __future__ import annotations

import asyncio
import threading

import adbutils
import aiohttp
import httpx
import pytest
from aiohttp import web

from tests.fakes import ECHO_URL, FakePhone, PhoneProxy


@pytest.fixture
async def site():
    """A loopback HTTP site with a page and a websocket echo, standing in for the simulator."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.path}")

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"echo:{message.data}")
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


async def _tcp_echo() -> asyncio.Server:
    async def handle(reader, writer):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _connect_tunnel(
    proxy_port: int, target: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def test_absolute_uri_requests_are_forwarded_and_counted(site):
    async with PhoneProxy() as proxy, httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client:
        first = await client.get(f"http://127.0.0.1:{site}/a")
        second = await client.get(f"http://127.0.0.1:{site}/b?x=1")

    assert (first.text, second.text) == ("hello /a", "hello /b")
    assert proxy.forwarded["127.0.0.1"] == 2
    assert proxy.echo_count == 0


async def test_echo_host_answers_the_current_public_ip():
    async with (
        PhoneProxy("198.51.100.1") as proxy,
        httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client,
    ):
        before = (await client.get(ECHO_URL)).text
        proxy.public_ip = "198.51.100.2"
        after = (await client.get(ECHO_URL)).text

    assert (before, after) == ("198.51.100.1", "198.51.100.2")
    assert proxy.echo_count == 2


async def test_connect_tunnels_bytes_and_aliases_name_loopback_targets():
    echo = await _tcp_echo()
    port = echo.sockets[0].getsockname()[1]
    async with echo, PhoneProxy(aliases={"web.whatsapp.test": f"127.0.0.1:{port}"}) as proxy:
        reader, writer, head = await _connect_tunnel(proxy.port, "web.whatsapp.test:443")
        writer.write(b"\x16\x03\x01 any bytes")
        echoed = await reader.readexactly(13)
        writer.close()
        await writer.wait_closed()

    assert head.startswith(b"HTTP/1.1 200")
    assert echoed == b"\x16\x03\x01 any bytes"
    assert proxy.forwarded["web.whatsapp.test"] == 1


async def test_websocket_through_the_proxy(site):
    async with (
        PhoneProxy() as proxy,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"http://127.0.0.1:{site}/ws", proxy=proxy.url) as ws,
    ):
        await ws.send_str("ping")
        message = await ws.receive(timeout=2)

    assert message.data == "echo:ping"
    assert proxy.forwarded["127.0.0.1"] == 1


async def test_non_loopback_targets_are_refused_without_touching_the_network():
    async with PhoneProxy() as proxy, httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client:
        response = await client.get("http://example.com/")
        _, writer, head = await _connect_tunnel(proxy.port, "example.com:443")
        writer.close()
        await writer.wait_closed()

    assert response.status_code == 502 and "loopback only" in response.text
    assert head.startswith(b"HTTP/1.1 502")
    assert proxy.refused == 2 and not proxy.forwarded


async def test_going_offline_breaks_live_tunnels_and_refuses_new_ones():
    echo = await _tcp_echo()
    target = f"127.0.0.1:{echo.sockets[0].getsockname()[1]}"
    async with echo, PhoneProxy() as proxy:
        reader, writer, _ = await _connect_tunnel(proxy.port, target)
        proxy.set_online(False)
        tail = await asyncio.wait_for(reader.read(), 2)
        writer.close()
        async with httpx.AsyncClient(proxy=proxy.url, trust_env=False) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get(ECHO_URL)
            proxy.set_online(True)
            assert (await client.get(ECHO_URL)).status_code == 200

    assert tail == b""  # the tunnel was cut
    assert proxy.refused == 1


async def test_phone_airplane_mode_cuts_tunnels_through_its_adb_forward(fake_adb):
    echo = await _tcp_echo()
    target = f"127.0.0.1:{echo.sockets[0].getsockname()[1]}"
    phone = FakePhone("P", ip_pool=["203.0.113.1", "203.0.113.2"])
    adb = fake_adb(phone)
    client = adbutils.AdbClient(port=adb.port, socket_timeout=2)
    await asyncio.to_thread(client.device("P").forward, "tcp:0", "tcp:8080")
    port = int(adb.forwards()[0][1][4:])
    async with echo:
        reader, writer, head = await _connect_tunnel(port, target)
        writer.write(b"hi")
        assert await reader.readexactly(2) == b"hi"

        adb.set_airplane("P", True)
        tail = await asyncio.wait_for(reader.read(), 2)
        writer.close()
        adb.set_airplane("P", False)
        async with httpx.AsyncClient(proxy=f"http://127.0.0.1:{port}", trust_env=False) as http:
            ip = (await http.get(ECHO_URL)).text

    assert head.startswith(b"HTTP/1.1 200") and tail == b""
    assert ip == "203.0.113.2"
    assert phone.proxy.forwarded["127.0.0.1"] == 1


def test_standalone_proxy_in_a_thread_is_reusable():
    """A proxy can also run on its own loop thread, for sync callers."""
    ready, stop = threading.Event(), threading.Event()
    urls: list[str] = []

    def run() -> None:
        async def main() -> None:
            async with PhoneProxy("192.0.2.7") as proxy:
                urls.append(proxy.url)
                ready.set()
                await asyncio.to_thread(stop.wait, 10)

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(5)
    try:
        response = httpx.get(ECHO_URL, proxy=urls[0], trust_env=False)
    finally:
        stop.set()
        thread.join(5)

    assert response.text == "192.0.2.7"
