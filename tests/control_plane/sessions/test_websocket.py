"""Live updates over the websocket: a customer sees only their own sessions."""

import pytest
from channels.testing.websocket import WebsocketCommunicator

from control_plane.config.asgi import application
from control_plane.sessions import realtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


@pytest.fixture(autouse=True)
async def _fresh_channel_layer():
    """Each test runs in its own event loop; the process-wide channel layer keeps Redis
    pools bound to the loop that made them, so every test gets a layer of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    layer = channel_layers.backends.pop("default", None)
    if layer is not None:
        await layer.close_pools()


async def connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected, path
    return communicator


@pytest.fixture
def two_customers(db):
    from tests.helpers import make_customer

    return make_customer("ws-a@example.com"), make_customer("ws-b@example.com")


async def test_a_customer_receives_their_events_and_not_other_customers(two_customers):
    from asgiref.sync import sync_to_async

    alice, bob = two_customers
    alice_ws = await connect(f"/ws/?token={alice.access}")
    bob_ws = await connect(f"/ws/?token={bob.access}")
    assert (await alice_ws.receive_json_from())["event"] == "hello"
    assert (await bob_ws.receive_json_from())["event"] == "hello"
    await sync_to_async(realtime.push)(alice.user.pk, "alice-shop", "session.qr", {"qr": "ref,k,k,k,WEB"})
    message = await alice_ws.receive_json_from(timeout=5)
    assert message == {"event": "session.qr", "session": "alice-shop", "data": {"qr": "ref,k,k,k,WEB"}}
    assert await bob_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_unauthenticated_or_forged_tokens_are_closed():
    for path in ["/ws/", "/ws/?token=garbage"]:
        communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
        connected, code = await communicator.connect()
        assert not connected and code == 4401
        await communicator.disconnect()  # let the refused consumer finish before the loop closes


async def test_subscribing_to_another_customers_session_is_refused(two_customers):
    from asgiref.sync import sync_to_async

    from control_plane.sessions.services import session_create

    alice, bob = two_customers
    bobs = await sync_to_async(session_create)(user=bob.user, name="bob shop")
    communicator = WebsocketCommunicator(
        application, f"/ws/?token={alice.access}&session={bobs.id}", headers=ORIGIN
    )
    connected, code = await communicator.connect()
    assert not connected and code == 4404
    await communicator.disconnect()


async def test_a_session_filter_passes_only_that_session(two_customers):
    from asgiref.sync import sync_to_async

    from control_plane.sessions.services import session_create

    alice, _ = two_customers
    alice.user.tier_id = "pro"
    await sync_to_async(alice.user.save)()
    first = await sync_to_async(session_create)(user=alice.user, name="first")
    ws = await connect(f"/ws/?token={alice.access}&session={first.id}")
    await ws.receive_json_from()
    await sync_to_async(realtime.push)(alice.user.pk, "some-other", "session.status", {"status": "connected"})
    await sync_to_async(realtime.push)(alice.user.pk, first.id, "session.status", {"status": "connected"})
    message = await ws.receive_json_from(timeout=5)
    assert message["session"] == first.id
    await ws.disconnect()


async def test_a_foreign_origin_is_refused(two_customers):
    alice, _ = two_customers
    communicator = WebsocketCommunicator(
        application, f"/ws/?token={alice.access}", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_the_channel_layer_survives_more_than_five_quiet_seconds():
    """redis-py 8 times asyncio reads out after 5 s, the layer's own blocking-pop time:
    an idle websocket must not die of it."""
    import asyncio

    from channels.layers import get_channel_layer
    from redis.exceptions import TimeoutError as RedisTimeout

    layer = get_channel_layer()
    channel = await layer.new_channel()
    try:
        await asyncio.wait_for(layer.receive(channel), 6.5)
    except RedisTimeout:  # pragma: no cover - the failure this test guards against
        pytest.fail("the channel layer's Redis read timed out while idle")
    except TimeoutError:
        pass  # nothing arrived, as expected, and the layer was still waiting
