"""Snapshot blobs: streamed to disk with a size limit and a checksum.

Blobs go to ``SNAPSHOT_DIR`` (a directory every control-plane replica shares);
the database keeps one row per session with size, SHA-256 and the generation
that uploaded it. Nothing here can decrypt a snapshot.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from control_plane.core.errors import PayloadTooLarge, ValidationFailed

CHUNK = 256 * 1024


def snapshot_dir() -> Path:
    path = Path(settings.SNAPSHOT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def blob_path(blob_name: str) -> Path:
    return snapshot_dir() / blob_name


def store_stream(*, stream: BinaryIO, blob_name: str, expected_sha256: str | None) -> tuple[int, str]:
    """Copy a request stream to ``blob_name`` atomically; returns (size, sha256).

    The old blob stays in place until the new one is complete and verified.
    """
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=snapshot_dir(), prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > settings.SNAPSHOT_MAX_BYTES:
                    raise PayloadTooLarge(f"A snapshot may be at most {settings.SNAPSHOT_MAX_BYTES} bytes.")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationFailed("The snapshot is empty.")
        sha = digest.hexdigest()
        if expected_sha256 and expected_sha256.lower() != sha:
            raise ValidationFailed(
                "The snapshot does not match its X-Snapshot-Sha256 header (damaged upload)."
            )
        os.replace(tmp_name, blob_path(blob_name))
        return size, sha
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_chunks(blob_name: str) -> Iterator[bytes]:
    with blob_path(blob_name).open("rb") as blob:
        while chunk := blob.read(CHUNK):
            yield chunk


def delete_blob(blob_name: str) -> None:
    blob_path(blob_name).unlink(missing_ok=True)
