"""The command outbox: hand-overs written by one thread per process, in order."""

import logging
import threading

import redis

from control_plane.core import redis as redis_client
from control_plane.core import transport
from shared import streams
from shared.commands import SendMessage
from shared.envelope import decode


def _command(n: int, session: str = "outbox-s") -> SendMessage:
    return SendMessage(
        session_id=session, generation=1, message_id=f"msg-{n}", to="15550000002", text=f"t{n}"
    )


def test_commands_from_many_threads_all_arrive_each_threads_in_order():
    worker_id = "outbox-order"
    redis_client.client().delete(streams.commands_stream(worker_id))

    def sender(thread: int) -> None:
        for n in range(50):
            transport.send_command_soon(worker_id=worker_id, command=_command(thread * 1000 + n), wait=5)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert transport.outbox_flush()
    entries = redis_client.client().xrange(streams.commands_stream(worker_id))
    ids = [decode(fields["envelope"])[1].message_id for _, fields in entries]
    assert len(ids) == 200
    for t in range(4):
        mine = [int(i.split("-")[1]) for i in ids if int(i.split("-")[1]) // 1000 == t]
        assert mine == sorted(mine) and len(mine) == 50


def test_a_redis_outage_is_logged_and_never_raises(monkeypatch, caplog):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True)
    monkeypatch.setattr(transport.redis_client, "client", lambda: dead)
    with caplog.at_level(logging.WARNING, logger="control_plane.core.transport"):
        written = transport.send_command_soon(worker_id="outbox-down", command=_command(1), wait=5)
        assert transport.outbox_flush()
    assert written  # given up on, not left hanging
    assert "1 commands not handed over" in caplog.text
    assert "sweeper" in caplog.text


def test_a_send_returns_only_once_its_command_is_on_the_stream():
    worker_id = "outbox-ordered"
    redis_client.client().delete(streams.commands_stream(worker_id))
    for n in range(3):
        assert transport.send_command_soon(worker_id=worker_id, command=_command(n), wait=5)
        assert redis_client.client().xlen(streams.commands_stream(worker_id)) == n + 1


def test_the_outbox_thread_outlives_a_bug_and_a_dead_thread_is_replaced(monkeypatch, caplog):
    def broken(batch):
        raise RuntimeError("a bug")

    monkeypatch.setattr(transport._Outbox, "_write", staticmethod(broken))
    with caplog.at_level(logging.ERROR, logger="control_plane.core.transport"):
        assert transport.send_command_soon(worker_id="outbox-bug", command=_command(1), wait=5)
    assert "outbox failed on 1 commands" in caplog.text
    monkeypatch.undo()
    assert transport._outbox._thread.is_alive()
    transport._outbox._thread = threading.Thread(target=lambda: None)  # as if it had died
    assert transport.send_command_soon(worker_id="outbox-bug", command=_command(2), wait=5)
