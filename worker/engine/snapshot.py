"""Encrypted profile snapshots: a session's Chromium profile, minus caches.

Format (version 1)::

    b"WGSNAP" | version (1 byte) | key id (8 bytes) | nonce (12 bytes) | AES-256-GCM(gzip(tar))

The header is authenticated as associated data. The key id is a hash of the
key, so a snapshot opened with the wrong key says so instead of "corrupt".
The key comes from settings and is never written next to the data.

A live profile is copied while its Chromium is frozen (SIGSTOP): the copy is
a point-in-time image, as consistent as after a crash, which LevelDB
(IndexedDB, Local Storage) and SQLite (cookies) are built to recover from.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from worker.engine.errors import SnapshotError
from worker.engine.processes import frozen

MAGIC = b"WGSNAP"
VERSION = 1
HEADER_LEN = len(MAGIC) + 1 + 8 + 12
MAX_RESTORED_BYTES = 4 * 1024**3
# Caches and machine-local state: rebuilt by Chromium, useless (or harmful) elsewhere.
EXCLUDED_DIRS = frozenset(
    {
        "Cache",
        "Code Cache",
        "GPUCache",
        "DawnCache",
        "DawnWebGPUCache",
        "DawnGraphiteCache",
        "GrShaderCache",
        "GraphiteDawnCache",
        "ShaderCache",
        "GPUPersistentCache",
        "CacheStorage",
        "ScriptCache",
        "Crashpad",
        ".crashpad",
        "Crash Reports",
        "component_crx_cache",
        "Safe Browsing",
        "blob_storage",
        "BrowserMetrics",
        "optimization_guide_model_store",
        "Download Service",
    }
)
EXCLUDED_FILES = frozenset({"SingletonLock", "SingletonSocket", "SingletonCookie", "RunningChromeVersion"})


def snapshot_key_from_setting(value: str) -> bytes:
    """A 32-byte key from a setting: 64 hex digits, or base64 (standard or URL-safe)."""
    text = value.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.b64decode(
            text + "=" * (-len(text) % 4),
            altchars=b"-_" if ("-" in text or "_" in text) else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise SnapshotError("the snapshot key must be 32 bytes, given as 64 hex digits or base64")
    return key


def generate_snapshot_key() -> str:
    """A fresh key for settings, as URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"wagate-snapshot-key-id:" + key).digest()[:8]


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != 32:
        raise SnapshotError("the snapshot key must be exactly 32 bytes")


def _included(profile_dir: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(profile_dir, followlinks=False):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS and not os.path.islink(os.path.join(root, d))]
        for name in files:
            path = Path(root, name)
            if (
                name not in EXCLUDED_FILES
                and not name.endswith(".pma")
                and path.is_file()
                and not path.is_symlink()
            ):
                yield path


def _stage(profile_dir: Path, staging: Path, freeze_pids: Iterable[int]) -> None:
    """Copy the profile (without caches) into ``staging`` while Chromium is frozen."""
    with frozen(freeze_pids):
        for path in _included(profile_dir):
            target = staging / path.relative_to(profile_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copy2(path, target)
            except FileNotFoundError:
                continue  # deleted between listing and copying (only possible when not frozen)


def _archive(staging: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            tar.add(path, arcname=path.relative_to(staging).as_posix(), recursive=False)
    return buf.getvalue()


def snapshot_profile(profile_dir: Path, key: bytes, *, freeze_pids: Iterable[int] = ()) -> bytes:
    """Archive and encrypt ``profile_dir`` without its caches.

    Pass the running browser's pids as ``freeze_pids`` to snapshot a live
    session consistently (see the module docstring).
    """
    _check_key(key)
    profile_dir = Path(profile_dir)
    if not profile_dir.is_dir():
        raise SnapshotError(f"profile directory {profile_dir} does not exist")
    with tempfile.TemporaryDirectory(prefix="wagate-snap-") as tmp:
        _stage(profile_dir, Path(tmp), list(freeze_pids))
        plain = _archive(Path(tmp))
    header = MAGIC + bytes([VERSION]) + key_id(key) + secrets.token_bytes(12)
    return header + AESGCM(key).encrypt(header[-12:], plain, header)


def _decrypt(blob: bytes, key: bytes) -> bytes:
    _check_key(key)
    if len(blob) < HEADER_LEN + 16 or not blob.startswith(MAGIC):
        raise SnapshotError("not a wagate profile snapshot (bad header)")
    version = blob[len(MAGIC)]
    if version != VERSION:
        raise SnapshotError(
            f"snapshot format version {version} is not supported (this worker reads {VERSION})"
        )
    header = blob[:HEADER_LEN]
    if header[len(MAGIC) + 1 : len(MAGIC) + 9] != key_id(key):
        raise SnapshotError("snapshot was encrypted with a different key (key id mismatch)")
    try:
        return AESGCM(key).decrypt(header[-12:], blob[HEADER_LEN:], header)
    except InvalidTag as exc:
        raise SnapshotError("snapshot is corrupt or was tampered with (authentication failed)") from exc


def _extract(plain: bytes, into: Path) -> None:
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                total += member.size
                if not (member.isfile() or member.isdir()) or total > MAX_RESTORED_BYTES:
                    raise SnapshotError(f"snapshot holds an unexpected entry {member.name!r}")
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SnapshotError(f"snapshot archive is unreadable: {exc}") from exc


def restore_profile(blob: bytes, target_dir: Path, key: bytes, *, replace: bool = False) -> None:
    """Decrypt ``blob`` into ``target_dir``.

    Everything is extracted beside the target first and moved into place only
    when complete, so a bad snapshot never touches an existing directory. An
    existing non-empty target is refused unless ``replace`` is set.
    """
    target_dir = Path(target_dir)
    plain = _decrypt(blob, key)
    if target_dir.exists() and any(target_dir.iterdir()) and not replace:
        raise SnapshotError(f"restore target {target_dir} already exists and is not empty")
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.restore-", dir=target_dir.parent))
    try:
        _extract(plain, staging)
        if target_dir.exists():
            old = target_dir.with_name(f".{target_dir.name}.old-{secrets.token_hex(4)}")
            target_dir.rename(old)
            staging.rename(target_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
