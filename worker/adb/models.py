"""What the controller knows about each phone, and the result of a rotation.

``PhoneRecord.as_dict()`` is the shape of one entry of the worker heartbeat's
``devices`` list (documented in docs/adb.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.events import ProxyRotated, ProxyRotationFailed


class PhoneStatus(StrEnum):
    """Whether a phone can carry sessions right now."""

    OK = "ok"
    ROTATING = "rotating"
    UNHEALTHY = "unhealthy"


class Method(StrEnum):
    """How a rotation cut the phone off the cellular network."""

    AIRPLANE = "airplane"
    MOBILE_DATA = "mobile_data"


@dataclass(frozen=True)
class RotationResult:
    """The outcome of one rotation; ``joined`` marks a caller that joined a running one."""

    serial: str
    ok: bool
    old_ip: str | None
    new_ip: str | None
    started_at: datetime
    finished_at: datetime
    method: Method | None = None
    attempts: int = 0
    code: str | None = None
    reason: str | None = None
    joined: bool = False

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def to_event(self, proxy_id: str | None = None) -> ProxyRotated | ProxyRotationFailed:
        """The shared wire event the worker publishes for this result."""
        if self.ok and self.new_ip is not None:
            return ProxyRotated(
                proxy_id=proxy_id,
                device_serial=self.serial,
                old_ip=self.old_ip,
                new_ip=self.new_ip,
                method=self.method.value if self.method else None,
                attempts=self.attempts,
                duration_s=round(self.duration_s, 3),
            )
        return ProxyRotationFailed(
            proxy_id=proxy_id,
            device_serial=self.serial,
            reason=self.reason or self.code or "rotation failed",
            code=self.code,
            old_ip=self.old_ip,
            attempts=self.attempts,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "old_ip": self.old_ip,
            "new_ip": self.new_ip,
            "method": self.method.value if self.method else None,
            "attempts": self.attempts,
            "code": self.code,
            "reason": self.reason,
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class PhoneRecord:
    """The controller's view of one phone (mutable; only the controller writes it)."""

    serial: str
    state: str
    model: str | None = None
    local_port: int | None = None
    forwarded: bool = False
    public_ip: str | None = None
    battery_level: int | None = None
    battery_temperature: float | None = None
    charging: bool | None = None
    signal_level: int | None = None
    data_connected: bool | None = None
    proxy_app_up: bool | None = None
    status: PhoneStatus = PhoneStatus.UNHEALTHY
    reason: str | None = "not_checked"
    detail: str | None = None
    warnings: list[str] = field(default_factory=list)
    last_check_at: datetime | None = None
    last_ok_at: datetime | None = None
    absent_since: float | None = None
    rotation_step: str | None = None
    last_rotation: RotationResult | None = None

    @property
    def proxy_url(self) -> str | None:
        """``http://127.0.0.1:<port>`` while the forward is up, else None."""
        if self.local_port is None or not self.forwarded:
            return None
        return f"http://127.0.0.1:{self.local_port}"

    def mark(self, status: PhoneStatus, reason: str | None = None, detail: str | None = None) -> None:
        self.status, self.reason, self.detail = status, reason, detail

    def as_dict(self) -> dict[str, Any]:
        """One entry of the heartbeat's ``devices`` list (JSON-ready)."""
        return {
            "serial": self.serial,
            "state": self.state,
            "model": self.model,
            "local_port": self.local_port,
            "proxy_url": self.proxy_url,
            "public_ip": self.public_ip,
            "battery_level": self.battery_level,
            "battery_temperature": self.battery_temperature,
            "charging": self.charging,
            "signal_level": self.signal_level,
            "data_connected": self.data_connected,
            "proxy_app_up": self.proxy_app_up,
            "status": self.status.value,
            "reason": self.reason,
            "detail": self.detail,
            "warnings": list(self.warnings),
            "rotation_step": self.rotation_step,
            "last_check_at": self.last_check_at.isoformat() if self.last_check_at else None,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "last_rotation": self.last_rotation.as_dict() if self.last_rotation else None,
        }
