"""A serving process starts with its views loaded and out of the collector's way."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["control_plane.config.wsgi", "control_plane.config.asgi"])
def test_the_entry_point_loads_every_view_and_freezes_what_it_loaded(module):
    probe = (
        f"import gc, sys; import {module}; "
        "print(gc.get_freeze_count(), 'control_plane.messaging.apis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen, views_loaded = out.stdout.split()
    assert int(frozen) > 10_000
    assert views_loaded == "True"


def test_the_process_environment_never_reaches_a_request(monkeypatch):
    from control_plane.config.serving import without_process_environment

    monkeypatch.setenv("DATABASE_URL", "postgres://user:secret@db/wagate")
    monkeypatch.setenv("HTTP_PROXY", "http://user:secret@proxy:3128")
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    served = without_process_environment(app)
    environ = {"DATABASE_URL": "postgres://user:secret@db/wagate", "PATH_INFO": "/v1/health"}
    environ["HTTP_PROXY"] = "http://user:secret@proxy:3128"
    environ |= {"HTTP_X_API_KEY": "k", "REQUEST_METHOD": "GET", "wsgi.input": None}
    served(environ, lambda *a: None)
    assert "DATABASE_URL" not in seen and "HTTP_PROXY" not in seen
    assert (seen["PATH_INFO"], seen["HTTP_X_API_KEY"], seen["REQUEST_METHOD"]) == ("/v1/health", "k", "GET")
    assert "wsgi.input" in seen


def test_every_deployment_serves_the_api_with_the_same_granian_command():
    """make run and the benchmarks build it from web_server_args; the container files
    spell it out and must say the same."""
    from pathlib import Path

    from control_plane.config.serving import WSGI_APP, web_server_args

    root = Path(__file__).resolve().parents[3]
    expected = web_server_args(host="0.0.0.0", port=8000)
    for path in ("docker-compose.yml", "deploy/Dockerfile"):
        text = root / path
        line = next(line for line in text.read_text().splitlines() if '"granian"' in line)
        spelled = [part.strip().strip('"') for part in line.split("[", 1)[1].rsplit("]", 1)[0].split(",")]
        assert spelled[0] == "granian" and spelled[-1] == WSGI_APP, path
        assert spelled[1 : 1 + len(expected)] == expected, path
