"""The worker's settings: read once from the environment into a frozen object.

Every variable is listed in docs/worker.md. Loading fails fast with one
:class:`~worker.errors.SettingsError` whose message is the one line to show.
Production only tightens the defaults: it requires ``FLEET_ENROLLMENT_TOKEN``
and ``SNAPSHOT_KEY``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from shared.ids import normalize_id
from worker.engine import EngineConfig, SnapshotError, snapshot_key_from_setting
from worker.errors import SettingsError

ENVIRONMENTS = ("production", "development", "test")
# The control plane's own non-production defaults (control_plane/config/settings.py).
DEFAULT_ENROLLMENT = {"development": "dev-enrollment-token", "test": "test-enrollment-token"}
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerSettings:
    """Everything the worker process is configured with (see docs/worker.md)."""

    env: str = "production"
    control_plane_url: str = "http://127.0.0.1:8000"
    enrollment_token: str = field(default="", repr=False)
    worker_id: str | None = None
    worker_name: str = ""
    worker_url: str = ""
    capacity: int = 10
    data_dir: Path = field(default_factory=lambda: Path(".wagate/worker").resolve())
    chromium_path: str = "/usr/bin/chromium"
    headless: bool = True
    whatsapp_url: str = "https://web.whatsapp.com/"
    qr_ttl: float = 20.0
    heartbeat_interval: float | None = None  # None: what registration returned
    snapshot_key: bytes | None = field(default=None, repr=False)  # None: a development key
    snapshot_interval: float = 600.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    start_concurrency: int = 2
    shutdown_timeout: float = 30.0
    recovery_timeout: float = 90.0
    media_max_bytes: int = 64 * 1024 * 1024
    adb_enabled: bool = False
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    def profile_dir(self, session_id: str) -> Path:
        return self.sessions_dir / session_id

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            chromium_path=self.chromium_path,
            whatsapp_url=self.whatsapp_url,
            headless=self.headless,
            qr_ttl=self.qr_ttl,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerSettings:
        """Read and validate every variable; raise SettingsError (one line) on the first bad one."""
        env = _Env(os.environ if environ is None else environ)
        stage = env.choice("WAGATE_ENV", ENVIRONMENTS, "production")
        worker_id = _worker_id(env.text("WORKER_ID", ""))
        settings = cls(
            env=stage,
            control_plane_url=env.url("CONTROL_PLANE_URL", "http://127.0.0.1:8000"),
            enrollment_token=_enrollment_token(env, stage),
            worker_id=worker_id,
            worker_name=env.text("WORKER_NAME", "") or worker_id or socket.gethostname(),
            worker_url=env.text("WORKER_URL", ""),
            capacity=env.number("WORKER_CAPACITY", int, 10, low=1, high=1000),
            data_dir=Path(env.text("WORKER_DATA_DIR", ".wagate/worker")).expanduser().resolve(),
            chromium_path=_chromium(env.text("CHROMIUM_PATH", "/usr/bin/chromium")),
            headless=env.flag("CHROMIUM_HEADLESS", True),
            whatsapp_url=env.url("WHATSAPP_URL", "https://web.whatsapp.com/"),
            qr_ttl=env.number("QR_TTL", float, 20.0, low=1, high=600),
            heartbeat_interval=env.optional_number("HEARTBEAT_INTERVAL", low=0.2, high=3600),
            snapshot_key=_snapshot_key(env, stage),
            snapshot_interval=env.number("SNAPSHOT_INTERVAL", float, 600.0, low=5, high=86400),
            redis_url=env.redis("REDIS_URL", "redis://127.0.0.1:6379/0"),
            start_concurrency=env.number("START_CONCURRENCY", int, 2, low=1, high=64),
            shutdown_timeout=env.number("SHUTDOWN_TIMEOUT", float, 30.0, low=1, high=600),
            recovery_timeout=env.number("RECOVERY_TIMEOUT", float, 90.0, low=5, high=3600),
            media_max_bytes=env.number("MEDIA_MAX_BYTES", int, 64 * 1024 * 1024, low=1024, high=2**31),
            adb_enabled=env.flag("WAGATE_ADB_ENABLED", False),
            log_level=env.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", upper=True),
        )
        return settings


class _Env:
    """Typed reads of one environment mapping; every failure names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, "").strip() or default

    def choice(self, name: str, allowed: tuple[str, ...], default: str, *, upper: bool = False) -> str:
        value = self.text(name, default)
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name, "").lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false (got {value!r})")

    def number(self, name: str, kind: Callable[[str], T], default: T, *, low: float, high: float) -> T:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number (got {raw!r})") from None
        if not low <= value <= high:  # type: ignore[operator]
            raise SettingsError(f"{name} must be between {low:g} and {high:g} (got {raw})")
        return value

    def optional_number(self, name: str, *, low: float, high: float) -> float | None:
        if not self.text(name, ""):
            return None
        return self.number(name, float, 0.0, low=low, high=high)

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise SettingsError(f"{name} must be an http:// or https:// URL (got {value!r})")
        return value

    def redis(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL")
        return value


def _worker_id(raw: str) -> str | None:
    if not raw:
        return None
    worker_id = normalize_id(raw)
    if not worker_id or len(worker_id) > 100:
        raise SettingsError(f"WORKER_ID {raw!r} is not a usable id (letters, digits, hyphens; at most 100)")
    return worker_id


def _enrollment_token(env: _Env, stage: str) -> str:
    token = env.text("FLEET_ENROLLMENT_TOKEN", DEFAULT_ENROLLMENT.get(stage, ""))
    if not token:
        raise SettingsError("FLEET_ENROLLMENT_TOKEN is not set (the worker registers with it)")
    return token


def _chromium(path: str) -> str:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SettingsError(f"CHROMIUM_PATH {path!r} is not an executable file (install chromium or set it)")
    return path


def _snapshot_key(env: _Env, stage: str) -> bytes | None:
    raw = env.text("SNAPSHOT_KEY", "")
    if not raw:
        if stage == "production":
            raise SettingsError(
                "SNAPSHOT_KEY is not set: give every worker the same 32-byte key, base64 "
                '(python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())")'
            )
        return None
    try:
        return snapshot_key_from_setting(raw)
    except SnapshotError as exc:
        raise SettingsError(f"SNAPSHOT_KEY: {exc.reason}") from exc
