"""Golden JSON of every wire message: both sides must read exactly these bytes.

Removing or renaming a field breaks a golden file: bump ``SCHEMA_VERSION`` and
keep reading the old form (../STYLE.md habit 4). Adding an optional field only
needs the golden file regenerated.
"""

import json
from pathlib import Path

import pytest

from shared.envelope import SCHEMA_VERSION, WireError, decode, registered_types

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))
COMMANDS = {
    name
    for name in registered_types()
    if name
    in {
        "session.start",
        "session.stop",
        "session.logout",
        "session.drop",
        "session.snapshot",
        "session.request_pairing_code",
        "message.send",
        "proxy.rotate",
    }
}
EVENTS = set(registered_types()) - COMMANDS - {"command.result"}  # results travel on reply keys


def test_every_wire_type_has_a_golden_example():
    assert {f.stem for f in FILES} == set(registered_types())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_golden_message_decodes_and_round_trips_unchanged(path):
    raw = path.read_text()
    envelope, payload = decode(raw)
    assert envelope.type == path.stem and envelope.schema_version == SCHEMA_VERSION
    assert payload.model_dump(mode="json") == json.loads(raw)["payload"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_unknown_field_is_refused_not_ignored(path):
    data = json.loads(path.read_text())
    data["payload"]["surprise"] = 1
    with pytest.raises(WireError) as refused:
        decode(json.dumps(data))
    assert refused.value.code == "invalid_payload"


def test_a_newer_schema_version_is_refused():
    data = json.loads((GOLDEN / "session.status.json").read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(WireError) as refused:
        decode(json.dumps(data))
    assert refused.value.code == "unsupported_version"


def test_the_worker_handles_every_command():
    from worker.handlers import HANDLERS

    assert {command.TYPE for command in HANDLERS} == COMMANDS


def test_the_control_plane_ingests_every_event():
    from control_plane.core.ingest import HANDLERS, handler_for

    assert set(HANDLERS) == EVENTS
    for name in EVENTS:
        assert callable(handler_for(name))
