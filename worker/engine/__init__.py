"""The WhatsApp engine: one live WhatsApp Web session per Chromium profile, driven by Playwright.

Public interface (docs/engine.md): :class:`EngineConfig`, :class:`SessionRuntime`,
:func:`snapshot_profile` / :func:`restore_profile`, and the errors.
"""

from worker.engine.config import Backoff, EngineConfig, Timeouts
from worker.engine.errors import (
    EngineError,
    LaunchError,
    NotConnectedError,
    PageError,
    PairingError,
    SendError,
    SnapshotError,
)
from worker.engine.processes import enable_subreaper, pss_mb, reap_zombies
from worker.engine.runtime import SessionRuntime
from worker.engine.snapshot import (
    generate_snapshot_key,
    restore_profile,
    snapshot_key_from_setting,
    snapshot_profile,
)

__all__ = [
    "Backoff",
    "EngineConfig",
    "EngineError",
    "LaunchError",
    "NotConnectedError",
    "PageError",
    "PairingError",
    "SendError",
    "SessionRuntime",
    "SnapshotError",
    "Timeouts",
    "enable_subreaper",
    "generate_snapshot_key",
    "pss_mb",
    "reap_zombies",
    "restore_profile",
    "snapshot_key_from_setting",
    "snapshot_profile",
]
