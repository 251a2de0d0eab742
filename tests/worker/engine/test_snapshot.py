"""Profile snapshots: what goes in, encryption, and restores that never damage anything."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.events import QrIssued
from shared.types import SessionStatus
from tests.worker.engine.conftest import link_by_qr
from worker.engine import SnapshotError, restore_profile, snapshot_key_from_setting, snapshot_profile
from worker.engine.snapshot import HEADER_LEN

KEY = bytes(range(32))
OTHER_KEY = bytes(reversed(range(32)))


def make_profile(root: Path) -> Path:
    files = {
        "Default/IndexedDB/http_x.indexeddb.leveldb/000003.log": b"idb",
        "Default/Local Storage/leveldb/CURRENT": b"MANIFEST-000001\n",
        "Default/Cookies": b"sqlite",
        "wagate/state.json": b'{"sent": ["m1"]}',
        "Default/Cache/Cache_Data/data_0": b"cache",
        "Default/Code Cache/js/index": b"code",
        "Default/GPUCache/data_1": b"gpu",
        "Default/Service Worker/CacheStorage/abc": b"sw",
        "Crashpad/settings.dat": b"crash",
        "BrowserMetrics-spare.pma": b"metrics",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "SingletonLock").symlink_to("host-1234")
    return root


def archived_names(blob: bytes, key: bytes = KEY) -> set[str]:
    plain = AESGCM(key).decrypt(blob[HEADER_LEN - 12 : HEADER_LEN], blob[HEADER_LEN:], blob[:HEADER_LEN])
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_snapshot_keeps_state_and_worker_files_but_no_caches(tmp_path: Path):
    blob = snapshot_profile(make_profile(tmp_path / "p"), KEY)
    assert archived_names(blob) == {
        "Default/IndexedDB/http_x.indexeddb.leveldb/000003.log",
        "Default/Local Storage/leveldb/CURRENT",
        "Default/Cookies",
        "wagate/state.json",
    }


def test_snapshot_round_trips_into_a_new_directory(tmp_path: Path):
    blob = snapshot_profile(make_profile(tmp_path / "p"), KEY)
    restore_profile(blob, tmp_path / "restored", KEY)
    assert (tmp_path / "restored/wagate/state.json").read_bytes() == b'{"sent": ["m1"]}'
    assert (tmp_path / "restored/Default/Cookies").read_bytes() == b"sqlite"
    assert not (tmp_path / "restored/Default/Cache").exists()


def test_snapshot_is_encrypted(tmp_path: Path):
    blob = snapshot_profile(make_profile(tmp_path / "p"), KEY)
    assert blob.startswith(b"WGSNAP\x01") and b"state.json" not in blob and b"sent" not in blob


def test_wrong_key_is_a_clear_error_and_leaves_the_target_alone(tmp_path: Path):
    blob = snapshot_profile(make_profile(tmp_path / "p"), KEY)
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("original")
    with pytest.raises(SnapshotError, match="different key"):
        restore_profile(blob, target, OTHER_KEY, replace=True)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "p"]


def test_corrupt_snapshot_is_a_clear_error_and_leaves_the_target_alone(tmp_path: Path):
    blob = bytearray(snapshot_profile(make_profile(tmp_path / "p"), KEY))
    blob[-40] ^= 0xFF
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("original")
    with pytest.raises(SnapshotError, match="corrupt"):
        restore_profile(bytes(blob), target, KEY, replace=True)
    assert (target / "keep.txt").read_text() == "original"
    with pytest.raises(SnapshotError, match="not a wagate profile snapshot"):
        restore_profile(b"garbage", tmp_path / "new", KEY)
    assert not (tmp_path / "new").exists()


def test_restore_refuses_a_non_empty_target_unless_asked_to_replace(tmp_path: Path):
    blob = snapshot_profile(make_profile(tmp_path / "p"), KEY)
    target = tmp_path / "existing"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(SnapshotError, match="already exists"):
        restore_profile(blob, target, KEY)
    restore_profile(blob, target, KEY, replace=True)
    assert not (target / "old.txt").exists() and (target / "wagate/state.json").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_key_from_setting_accepts_hex_and_base64_only_of_32_bytes():
    assert snapshot_key_from_setting(KEY.hex()) == KEY
    assert snapshot_key_from_setting(base64.b64encode(KEY).decode()) == KEY
    assert snapshot_key_from_setting(base64.urlsafe_b64encode(OTHER_KEY).decode().rstrip("=")) == OTHER_KEY
    for bad in ("", "abc", base64.b64encode(b"short").decode(), "zz" * 32):
        with pytest.raises(SnapshotError, match="32 bytes"):
            snapshot_key_from_setting(bad)


@pytest.mark.browser
@pytest.mark.e2e
async def test_snapshot_of_a_live_session_restores_connected_without_a_scan(
    session_factory, phone, number, tmp_path: Path
):
    session = await session_factory()
    me = number()
    await link_by_qr(session, phone, me)
    worker_state = session.runtime.profile_dir / "wagate" / "state.json"
    worker_state.parent.mkdir()
    worker_state.write_text('{"generation": 3}')
    blob = await session.runtime.snapshot(KEY)  # taken while Chromium runs (frozen for the copy)
    await session.runtime.stop()
    target = tmp_path / "elsewhere" / "profile"
    restore_profile(blob, target, KEY)
    restored = await session_factory(name="s2", profile_dir=target)
    connected = await restored.log.status(SessionStatus.CONNECTED)
    assert connected.phone == me and restored.log.of(QrIssued) == []
    assert (target / "wagate" / "state.json").read_text() == '{"generation": 3}'


@pytest.mark.browser
@pytest.mark.e2e
async def test_restored_copy_takes_over_and_the_original_stops_with_conflict(
    session_factory, phone, number, tmp_path: Path
):
    original = await session_factory()
    me = number()
    await link_by_qr(original, phone, me)
    blob = await original.runtime.snapshot(KEY)
    restore_profile(blob, tmp_path / "copy", KEY)
    copy = await session_factory(name="s2", profile_dir=tmp_path / "copy")
    assert (await copy.log.status(SessionStatus.CONNECTED)).phone == me
    await original.log.status(SessionStatus.DISCONNECTED, "conflict")
    assert not original.runtime.running and original.runtime.profile_dir.exists()
