"""The benchmarks' raw HTTP client: its lost/duplicated figures depend on it
reading every answer right, on kept-alive and on reopened connections."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _load import Connection, LoadClientError, Pool


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set[int] = set()

    def do_POST(self) -> None:
        Echo.connections.add(self.client_address[1])
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = 404 if body.get("missing") else 202
        answer = json.dumps({"got": body, "key": self.headers.get("X-Api-Key")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if body.get("close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    Echo.connections = set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_answers_are_read_whole_on_one_kept_alive_connection(server):
    connection = Connection(server, {"X-Api-Key": "k"})
    answers = [await connection.post_json("/x", {"n": n}) for n in range(3)]
    await connection.close()
    assert [a.status for a in answers] == [202, 202, 202]
    assert [a.json()["got"]["n"] for a in answers] == [0, 1, 2]
    assert answers[0].json()["key"] == "k"
    assert len(Echo.connections) == 1


async def test_a_closed_connection_is_reopened_and_statuses_pass_through(server):
    pool = Pool(server, {}, size=2)
    closing = await pool.post_json("/x", {"close": True})
    missing = await pool.post_json("/x", {"missing": True})
    after = await pool.post_json("/x", {"n": 1})
    await pool.close()
    assert (closing.status, missing.status, after.status) == (202, 404, 202)
    assert after.json()["got"] == {"n": 1}
    assert len(Echo.connections) == 3  # two opened, then the closed one again


async def test_nothing_listening_is_a_load_client_error():
    with pytest.raises(LoadClientError):
        await Connection("http://127.0.0.1:9", {}).post_json("/x", {})
