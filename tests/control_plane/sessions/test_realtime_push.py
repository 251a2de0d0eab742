"""Pushes to websockets share one event loop and its Redis connections."""

import os

from control_plane.core import redis as redis_client
from control_plane.sessions import realtime


def _connections_opened() -> int:
    return int(redis_client.client().info("stats")["total_connections_received"])


def test_pushes_reuse_one_connection_instead_of_opening_one_each():
    realtime.push("usr_nobody", "s", "session.status", {"status": "connected"})  # warm up
    before = _connections_opened()
    for n in range(20):
        realtime.push("usr_nobody", "s", "session.status", {"n": n})
    assert _connections_opened() - before <= 2


def test_a_forked_child_starts_its_own_push_loop():
    realtime.push("usr_nobody", "s", "session.status", {})
    parent_loop = realtime._push_loop._loop
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            realtime.push("usr_nobody", "s", "session.status", {})
            os._exit(0 if realtime._push_loop._loop is not parent_loop else 1)
        except BaseException:  # noqa: BLE001 - the child must exit, never return into pytest
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
