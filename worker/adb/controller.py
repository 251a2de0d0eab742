"""The ADB controller: phones on this worker host as rotating mobile proxies.

One instance per worker process, on the worker's event loop::

    controller = AdbController(AdbSettings.from_env())
    await controller.start()                 # checks every settings.check_interval
    heartbeat["devices"] = controller.devices()
    result = await controller.rotate(serial)  # -> RotationResult
    event = result.to_event(proxy_id)         # proxy.rotated / proxy.rotation_failed
    await controller.aclose()

Nothing here raises on a phone or ADB server failure: they become the
phone's ``status``/``reason`` (and ``server_status()`` for the server).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from worker.adb.client import AdbGateway, ForwardEntry
from worker.adb.discovery import ONLINE, merge_listing
from worker.adb.errors import AdbCallError, AdbControllerError
from worker.adb.forwards import PortMap, ensure_forward
from worker.adb.health import HealthReport, check_phone
from worker.adb.models import PhoneRecord, PhoneStatus, RotationResult
from worker.adb.rotation import Rotation
from worker.adb.settings import AdbSettings

log = logging.getLogger(__name__)


class AdbController:
    """Discovers phones, keeps their forwards, checks their health and rotates their IP."""

    def __init__(self, settings: AdbSettings) -> None:
        self.settings = settings
        self._gateway = AdbGateway(settings)
        self._ports = PortMap(settings.ports_file, settings.forward_base_port, settings.forward_port_count)
        self._records: dict[str, PhoneRecord] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._rotations: dict[str, asyncio.Task[RotationResult]] = {}
        self._refresh_lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._server_error: str | None = "not checked yet"
        self._server_checked_at: datetime | None = None

    # ---- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Check once now, then every ``check_interval`` seconds in the background."""
        if self._loop_task is not None:
            return
        await self.refresh()
        self._loop_task = asyncio.create_task(self._check_loop(), name="adb-checks")

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval)
            try:
                await self.refresh()
            except Exception:  # a bug in one round must not end the checks for good
                log.exception("ADB check round failed")

    async def aclose(self) -> None:
        """Stop checking; running rotations are cancelled (each switches its radio back on)."""
        tasks = [t for t in (self._loop_task, *self._rotations.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._gateway.aclose()

    # ---- reading -------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        """The heartbeat's ``devices`` list (see docs/adb.md for the shape)."""
        return [self._records[s].as_dict() for s in sorted(self._records)]

    def device(self, serial: str) -> dict[str, Any] | None:
        record = self._records.get(serial)
        return record.as_dict() if record else None

    def server_status(self) -> dict[str, Any]:
        """Whether the host's ADB server answered the last listing."""
        return {
            "host": self.settings.server_host,
            "port": self.settings.server_port,
            "reachable": self._server_error is None,
            "error": self._server_error,
            "checked_at": self._server_checked_at.isoformat() if self._server_checked_at else None,
        }

    def proxy_url(self, serial: str) -> str | None:
        """The phone's stable proxy address for a browser (None if it never had a port)."""
        port = self._ports.get(serial)
        return f"http://127.0.0.1:{port}" if port is not None else None

    def is_rotating(self, serial: str) -> bool:
        task = self._rotations.get(serial)
        return task is not None and not task.done()

    # ---- checks ----------------------------------------------------------------------
    async def refresh(self) -> list[dict[str, Any]]:
        """List phones, then check every online one (concurrently); return ``devices()``."""
        async with self._refresh_lock:
            self._server_checked_at = datetime.now(UTC)
            try:
                listed = await self._gateway.list_devices()
            except AdbCallError as exc:
                self._server_unreachable(exc)
                return self.devices()
            self._server_error = None
            for serial in merge_listing(
                self._records, listed, forget_absent_after=self.settings.forget_absent_after
            ):
                self._gateway.forget(serial)
            forwards = await self._forward_list()
            online = sorted((r for r in self._records.values() if r.state == ONLINE), key=lambda r: r.serial)
            self._allocate_ports(online)
            await asyncio.gather(*(self._check_bounded(r, forwards) for r in online))
            return self.devices()

    def _allocate_ports(self, records: list[PhoneRecord]) -> None:
        """Hand out new ports in serial order, so concurrent checks do not race for them."""
        for record in records:
            try:
                self._ports.port_for(record.serial)
            except (AdbControllerError, OSError):
                return  # reported by the phone's own check

    def _server_unreachable(self, exc: AdbCallError) -> None:
        self._server_error = str(exc)
        log.warning("ADB server at %s:%s: %s", self.settings.server_host, self.settings.server_port, exc)
        for record in self._records.values():
            if not self.is_rotating(record.serial):
                record.mark(PhoneStatus.UNHEALTHY, "adb_server_unreachable", exc.detail)

    async def _forward_list(self) -> list[ForwardEntry] | None:
        try:
            return await self._gateway.forward_list()
        except AdbCallError as exc:
            log.warning("cannot list forwards: %s", exc)
            return None

    async def _check_bounded(self, record: PhoneRecord, forwards: list[ForwardEntry] | None) -> None:
        lock = self._locks[record.serial]
        if lock.locked() or self.is_rotating(record.serial):
            return  # a rotation owns the phone; it reports its own status
        async with lock:
            record.last_check_at = datetime.now(UTC)
            try:
                await asyncio.wait_for(self._check(record, forwards), self.settings.check_deadline)
            except TimeoutError:
                record.mark(
                    PhoneStatus.UNHEALTHY, "timeout", f"check took over {self.settings.check_deadline:g}s"
                )

    async def _check(self, record: PhoneRecord, forwards: list[ForwardEntry] | None) -> None:
        try:
            if record.model is None:
                record.model = (
                    await self._gateway.shell(record.serial, "getprop ro.product.model")
                ).text or None
            if not await self._ensure_forward(record, forwards):
                return
            assert record.proxy_url is not None
            report = await check_phone(self._gateway, self.settings, record.serial, record.proxy_url)
        except AdbCallError as exc:
            record.mark(PhoneStatus.UNHEALTHY, exc.code, exc.detail)
            return
        self._apply(record, report)

    async def _ensure_forward(self, record: PhoneRecord, forwards: list[ForwardEntry] | None) -> bool:
        """Give the phone its stable port and forward; False (with status) if that failed."""
        try:
            record.local_port = self._ports.port_for(record.serial)
            if forwards is None:
                forwards = await self._gateway.forward_list()
            created = await ensure_forward(
                self._gateway, record.serial, record.local_port, self.settings.phone_proxy_port, forwards
            )
        except AdbCallError as exc:
            record.forwarded = False
            reason = "forward_failed" if exc.code == "adb_error" else exc.code
            record.mark(PhoneStatus.UNHEALTHY, reason, exc.detail)
            return False
        except (AdbControllerError, OSError) as exc:  # no free port, unwritable data dir
            record.forwarded = False
            record.mark(PhoneStatus.UNHEALTHY, "forward_failed", str(exc))
            return False
        if created:
            log.info(
                "forwarding 127.0.0.1:%d to %s:%d",
                record.local_port,
                record.serial,
                self.settings.phone_proxy_port,
            )
        record.forwarded = True
        return True

    def _apply(self, record: PhoneRecord, report: HealthReport) -> None:
        record.battery_level = report.battery.level
        record.battery_temperature = report.battery.temperature
        record.charging = report.battery.charging
        record.signal_level = report.radio.signal_level
        record.data_connected = report.radio.data_connected
        record.proxy_app_up = report.proxy_app_up
        record.warnings = report.warnings
        if report.reason is None:
            record.public_ip = report.public_ip
            record.last_ok_at = datetime.now(UTC)
            record.mark(PhoneStatus.OK)
        else:
            record.mark(PhoneStatus.UNHEALTHY, report.reason, report.detail)

    # ---- rotation --------------------------------------------------------------------
    async def rotate(self, serial: str) -> RotationResult:
        """Rotate the phone's public IP and return the outcome (never raises for phone errors).

        A rotation already running for ``serial`` is joined, not started again:
        the caller gets its result with ``joined=True``. The rotation is
        shielded: a caller that gives up does not stop it half-way.
        """
        task = self._rotations.get(serial)
        if task is not None and not task.done():
            return replace(await asyncio.shield(task), joined=True)
        task = asyncio.create_task(self._rotate(serial), name=f"adb-rotate-{serial}")
        self._rotations[serial] = task
        return await asyncio.shield(task)

    async def _rotate(self, serial: str) -> RotationResult:
        record = self._records.get(serial)
        started = datetime.now(UTC)
        if record is None or record.state != ONLINE:
            state = record.state if record else "unknown"
            return _failed(serial, started, "device_unavailable", f"phone {serial} is {state}")
        async with self._locks[serial]:  # waits for a check in progress on this phone
            if not record.forwarded and not await self._ensure_forward(record, None):
                return _failed(serial, started, "forward_failed", record.detail or "no forward")
            assert record.proxy_url is not None
            record.mark(PhoneStatus.ROTATING, "rotating")

            def on_step(step: str) -> None:
                record.rotation_step = step

            rotation = Rotation(
                self._gateway,
                self.settings,
                serial,
                record.proxy_url,
                last_known_ip=record.public_ip,
                on_step=on_step,
            )
            try:
                result = await asyncio.wait_for(rotation.run(), self.settings.rotation_deadline)
            except TimeoutError:
                result = _failed(
                    serial, started, "timeout", f"rotation took over {self.settings.rotation_deadline:g}s"
                )
            finally:
                record.rotation_step = None
            self._record_rotation(record, result)
            return result

    def _record_rotation(self, record: PhoneRecord, result: RotationResult) -> None:
        record.last_rotation = result
        if result.ok:
            record.public_ip = result.new_ip
            record.last_ok_at = result.finished_at
            record.mark(PhoneStatus.OK)
        else:
            record.mark(PhoneStatus.UNHEALTHY, "rotation_failed", f"{result.code}: {result.reason}")
        log.info("rotation of %s: %s", record.serial, result.as_dict())


def _failed(serial: str, started: datetime, code: str, reason: str) -> RotationResult:
    return RotationResult(
        serial=serial,
        ok=False,
        old_ip=None,
        new_ip=None,
        started_at=started,
        finished_at=datetime.now(UTC),
        code=code,
        reason=reason,
    )
