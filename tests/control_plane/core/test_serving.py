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
