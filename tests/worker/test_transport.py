"""The worker's Redis door under a burst: calls wait for a connection, never fail."""

import asyncio
import os
import uuid

from shared.events import SessionStatusChanged
from worker.transport import Transport


async def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing():
    """Hundreds of commands read ahead can all answer at once (refusals, results):
    with a plain pool the calls past its size failed with "Too many connections"
    and their commands stayed pending until the next restart."""
    transport = Transport(os.environ["REDIS_URL"], f"burst-{uuid.uuid4().hex[:8]}", max_connections=4)
    event = SessionStatusChanged(session_id="burst-session", generation=1, status="connected")
    try:
        ids = await asyncio.gather(*(transport.publish(event) for _ in range(200)))
    finally:
        await transport.aclose()
    assert len(set(ids)) == 200
