"""Settings of the ADB controller: one frozen dataclass, from the environment or by hand.

Every timing is here so tests can run a full rotation in well under a second
and production can use the brief's numbers (research/adb-proxies.md §4.3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# adbutils runs `$ADBUTILS_ADB_PATH start-server` when it cannot reach a server.
# The controller never lets it (see client.py); this harmless default also
# covers any adbutils code path we do not wrap.
HARMLESS_ADB_PATH = "/bin/true"


class AdbSettingsError(ValueError):
    """A setting is missing or out of range; the worker fails fast on it."""


@dataclass(frozen=True)
class AdbSettings:
    """Configuration of :class:`worker.adb.controller.AdbController`.

    Ports: each phone gets a stable local port in
    ``[forward_base_port, forward_base_port + forward_port_count)``, persisted
    in ``data_dir/ports.json``; it is forwarded to ``phone_proxy_port`` on the
    phone (the proxy app's listen port).
    """

    server_host: str = "127.0.0.1"
    server_port: int = 5037
    adb_path: str = HARMLESS_ADB_PATH
    data_dir: Path = field(default_factory=lambda: Path(".wagate/adb"))
    forward_base_port: int = 18100
    forward_port_count: int = 100
    phone_proxy_port: int = 8080
    proxy_app_package: str | None = None
    echo_urls: tuple[str, ...] = ("https://api.ipify.org", "https://icanhazip.com")
    # Deadlines (seconds). command_timeout bounds every socket read of one
    # adbutils call; call_deadline bounds the whole call from asyncio.
    socket_timeout: float = 5.0
    command_timeout: float = 10.0
    call_deadline: float = 15.0
    http_timeout: float = 10.0
    check_interval: float = 30.0
    check_deadline: float = 60.0
    max_threads: int = 8
    # Health thresholds: soft warnings only, the phone still serves.
    hot_temperature: float = 42.0
    low_battery: int = 15
    # Rotation: one attempt per off time (escalating), then one mobile-data
    # toggle if airplane mode did not change the IP.
    off_times: tuple[float, ...] = (5.0, 10.0, 20.0)
    data_toggle_fallback: bool = True
    poll_interval: float = 1.0
    link_timeout: float = 30.0
    ip_change_timeout: float = 60.0
    rotation_deadline: float = 300.0
    forget_absent_after: float = 3600.0

    def __post_init__(self) -> None:
        if not self.echo_urls:
            raise AdbSettingsError("echo_urls needs at least one URL")
        if not self.off_times or min(self.off_times) < 0:
            raise AdbSettingsError("off_times needs at least one non-negative duration")
        for name in ("socket_timeout", "command_timeout", "call_deadline", "http_timeout", "poll_interval"):
            if getattr(self, name) <= 0:
                raise AdbSettingsError(f"{name} must be positive")
        if self.call_deadline < self.command_timeout:
            raise AdbSettingsError("call_deadline must be at least command_timeout")
        if not 0 < self.forward_base_port <= 65535 - self.forward_port_count:
            raise AdbSettingsError("forward ports must fit in 1..65535")

    @property
    def ports_file(self) -> Path:
        return self.data_dir / "ports.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AdbSettings:
        """Read ``WAGATE_ADB_*`` variables (see docs/adb.md); unset ones keep the defaults."""
        env = os.environ if env is None else env
        kwargs: dict[str, object] = {}
        text = {"SERVER_HOST": "server_host", "PATH": "adb_path", "PROXY_APP_PACKAGE": "proxy_app_package"}
        ints = {
            "SERVER_PORT": "server_port",
            "FORWARD_BASE_PORT": "forward_base_port",
            "FORWARD_PORT_COUNT": "forward_port_count",
            "PHONE_PROXY_PORT": "phone_proxy_port",
        }
        floats = {
            "COMMAND_TIMEOUT": "command_timeout",
            "CALL_DEADLINE": "call_deadline",
            "HTTP_TIMEOUT": "http_timeout",
            "CHECK_INTERVAL": "check_interval",
            "LINK_TIMEOUT": "link_timeout",
            "IP_CHANGE_TIMEOUT": "ip_change_timeout",
        }
        try:
            for key, name in text.items():
                if env.get(f"WAGATE_ADB_{key}"):
                    kwargs[name] = env[f"WAGATE_ADB_{key}"]
            for key, name in ints.items():
                if env.get(f"WAGATE_ADB_{key}"):
                    kwargs[name] = int(env[f"WAGATE_ADB_{key}"])
            for key, name in floats.items():
                if env.get(f"WAGATE_ADB_{key}"):
                    kwargs[name] = float(env[f"WAGATE_ADB_{key}"])
            # The standard adb variables are honoured when ours are unset.
            if "server_host" not in kwargs and env.get("ANDROID_ADB_SERVER_HOST"):
                kwargs["server_host"] = env["ANDROID_ADB_SERVER_HOST"]
            if "server_port" not in kwargs and env.get("ANDROID_ADB_SERVER_PORT"):
                kwargs["server_port"] = int(env["ANDROID_ADB_SERVER_PORT"])
            if env.get("WAGATE_ADB_DATA_DIR"):
                kwargs["data_dir"] = Path(env["WAGATE_ADB_DATA_DIR"])
            if env.get("WAGATE_ADB_ECHO_URLS"):
                kwargs["echo_urls"] = tuple(
                    u.strip() for u in env["WAGATE_ADB_ECHO_URLS"].split(",") if u.strip()
                )
            if env.get("WAGATE_ADB_OFF_TIMES"):
                kwargs["off_times"] = tuple(float(t) for t in env["WAGATE_ADB_OFF_TIMES"].split(","))
        except ValueError as exc:
            raise AdbSettingsError(f"bad WAGATE_ADB_* value: {exc}") from exc
        return cls(**kwargs)  # type: ignore[arg-type]
