import asyncio
import threading

import pytest


@pytest.fixture
def echo_proxy():
    """A real HTTP proxy on loopback whose 'public IP' answers the echo URL."""
    from tests.fakes.phone_proxy import PhoneProxy

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxy = PhoneProxy("198.51.100.7")
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(5)
    yield proxy
    asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def phone(serial="R58M1", port=20001, status="ok", ip="203.0.113.5", **extra):
    return {
        "serial": serial,
        "state": "device",
        "model": "SM_G973F",
        "local_port": port,
        "proxy_url": f"http://127.0.0.1:{port}",
        "public_ip": ip,
        "status": status,
        "reason": None,
        "battery_level": 88,
        **extra,
    }
