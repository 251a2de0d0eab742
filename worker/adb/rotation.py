"""One IP rotation of one phone, as a step-by-step state machine (research brief §4.3).

Per attempt: radio off (airplane mode, or mobile data when the phone has no
``cmd connectivity airplane-mode``), confirmed by reading it back; wait the
attempt's off time; radio on, confirmed; wait for the cellular data link;
make sure the proxy app still listens (restart it if a package is
configured); poll the public IP *through the proxy* until it differs from
the old one. Attempts escalate the off time; a sticky carrier that keeps the
IP through every airplane attempt gets one mobile-data toggle at the end.

Whatever happens (an ADB error, the deadline, cancellation), the radio that
was switched off is switched back on before the rotation returns, so a
failed rotation never leaves a phone in airplane mode.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from worker.adb.client import AdbGateway
from worker.adb.errors import AdbCallError, EchoError
from worker.adb.health import fetch_public_ip, parse_telephony
from worker.adb.models import Method, RotationResult
from worker.adb.settings import AdbSettings

log = logging.getLogger(__name__)

_AIRPLANE = "cmd connectivity airplane-mode"
# (command to switch the radio on/off, read-back command, expected read-back when on/off)
_RADIO = {
    Method.AIRPLANE: (
        {True: f"{_AIRPLANE} disable", False: f"{_AIRPLANE} enable"},
        _AIRPLANE,
        {True: "disabled", False: "enabled"},
    ),
    Method.MOBILE_DATA: (
        {True: "svc data enable", False: "svc data disable"},
        "settings get global mobile_data",
        {True: "1", False: "0"},
    ),
}


class AttemptFailed(Exception):
    """One attempt did not produce a new IP; ``code`` says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Rotation:
    """Rotate ``serial``'s public IP once; ``on_step`` is told each step's name."""

    def __init__(
        self,
        gateway: AdbGateway,
        settings: AdbSettings,
        serial: str,
        proxy_url: str,
        *,
        last_known_ip: str | None = None,
        on_step: Callable[[str], None] = lambda step: None,
    ) -> None:
        self._gateway = gateway
        self._settings = settings
        self._serial = serial
        self._proxy_url = proxy_url
        self._last_known_ip = last_known_ip
        self._on_step = on_step
        self._radio_off: Method | None = None  # set while a radio is switched off by us
        self._started = datetime.now(UTC)

    async def run(self) -> RotationResult:
        """Run every attempt of the plan until the IP changes; never raises AdbCallError."""
        old_ip: str | None = None
        attempts, method = 0, None
        try:
            self._on_step("reading_ip")
            old_ip = await self._read_ip() or self._last_known_ip
            failure = AttemptFailed("ip_unchanged", "no attempt was made")
            for method, off_time in await self._plan():
                attempts += 1
                try:
                    new_ip = await self._attempt(method, off_time, old_ip)
                except AttemptFailed as exc:
                    log.info(
                        "rotation of %s: attempt %d (%s) failed: %s", self._serial, attempts, method, exc
                    )
                    failure = exc
                    continue
                return self._result(True, old_ip, new_ip, method, attempts)
            return self._result(False, old_ip, None, method, attempts, failure.code, failure.reason)
        except AdbCallError as exc:
            return self._result(False, old_ip, None, method, attempts, exc.code, str(exc))
        finally:
            await self._restore()

    def _result(
        self,
        ok: bool,
        old_ip: str | None,
        new_ip: str | None,
        method: Method | None,
        attempts: int,
        code: str | None = None,
        reason: str | None = None,
    ) -> RotationResult:
        return RotationResult(
            serial=self._serial,
            ok=ok,
            old_ip=old_ip,
            new_ip=new_ip,
            started_at=self._started,
            finished_at=datetime.now(UTC),
            method=method,
            attempts=attempts,
            code=code,
            reason=reason,
        )

    async def _plan(self) -> list[tuple[Method, float]]:
        """Airplane attempts if the phone supports the command (probed), else data toggles."""
        self._on_step("probing")
        probe = await self._gateway.shell(self._serial, _AIRPLANE)
        off_times = self._settings.off_times
        if probe.text not in ("enabled", "disabled"):
            hint = (probe.stdout + probe.stderr).strip()[:80]
            log.info("%s has no `%s` (%r): rotating with mobile data", self._serial, _AIRPLANE, hint)
            return [(Method.MOBILE_DATA, t) for t in off_times]
        plan = [(Method.AIRPLANE, t) for t in off_times]
        if self._settings.data_toggle_fallback:
            plan.append((Method.MOBILE_DATA, off_times[-1]))
        return plan

    async def _attempt(self, method: Method, off_time: float, old_ip: str | None) -> str:
        self._on_step("radio_off")
        await self._switch(method, on=False)
        self._on_step("off_wait")
        await asyncio.sleep(off_time)
        self._on_step("radio_on")
        await self._switch(method, on=True)
        self._on_step("link_wait")
        await self._wait_link()
        self._on_step("app_check")
        await self._ensure_app()
        self._on_step("ip_poll")
        return await self._poll_new_ip(old_ip)

    async def _switch(self, method: Method, *, on: bool) -> None:
        commands, read_back, expected = _RADIO[method]
        if not on:
            self._radio_off = method  # from now on, _restore must switch it back on
        result = await self._gateway.shell(self._serial, commands[on])
        if result.code != 0:
            raise AttemptFailed(
                "radio_command_failed", f"`{commands[on]}` exited {result.code}: {result.stderr.strip()}"
            )
        state = (await self._gateway.shell(self._serial, read_back)).text
        if state != expected[on]:
            raise AttemptFailed(
                "radio_not_confirmed", f"`{read_back}` says {state!r}, wanted {expected[on]!r}"
            )
        if on:
            self._radio_off = None

    async def _wait_link(self) -> None:
        deadline = time.monotonic() + self._settings.link_timeout
        while True:
            radio = parse_telephony(
                (await self._gateway.shell(self._serial, "dumpsys telephony.registry")).stdout
            )
            if radio.data_connected:
                return
            if time.monotonic() >= deadline:
                raise AttemptFailed(
                    "no_cellular_link", f"no data connection {self._settings.link_timeout:g}s after"
                )
            await asyncio.sleep(self._settings.poll_interval)

    async def _ensure_app(self) -> None:
        port, package = self._settings.phone_proxy_port, self._settings.proxy_app_package
        if await self._gateway.probe_tcp(self._serial, port):
            return
        if package is None:
            raise AttemptFailed("proxy_app_down", f"nothing listens on the phone's port {port}")
        log.info("proxy app %s on %s stopped listening: restarting it", package, self._serial)
        await self._gateway.shell(self._serial, f"monkey -p {package} -c android.intent.category.LAUNCHER 1")
        deadline = time.monotonic() + self._settings.link_timeout
        while not await self._gateway.probe_tcp(self._serial, port):
            if time.monotonic() >= deadline:
                raise AttemptFailed("proxy_app_down", f"{package} did not listen on {port} after a restart")
            await asyncio.sleep(self._settings.poll_interval)

    async def _read_ip(self) -> str | None:
        try:
            return await fetch_public_ip(
                self._proxy_url, self._settings.echo_urls, self._settings.http_timeout
            )
        except EchoError as exc:
            log.info("rotation of %s: old IP unreadable: %s", self._serial, exc)
            return None

    async def _poll_new_ip(self, old_ip: str | None) -> str:
        """The first IP read through the proxy that differs from ``old_ip`` (any, if unknown)."""
        deadline = time.monotonic() + self._settings.ip_change_timeout
        last = "no answer yet"
        while True:
            try:
                ip = await fetch_public_ip(
                    self._proxy_url, self._settings.echo_urls, self._settings.http_timeout
                )
            except EchoError as exc:
                last = str(exc)
            else:
                if ip != old_ip:
                    return ip
                last = f"public IP still {ip}"
            if time.monotonic() >= deadline:
                code = "ip_unchanged" if last.startswith("public IP still") else "echo_failed"
                raise AttemptFailed(code, last)
            await asyncio.sleep(self._settings.poll_interval)

    async def _restore(self) -> None:
        """Switch back on a radio we left off (best effort, bounded by the call deadlines)."""
        method, self._radio_off = self._radio_off, None
        if method is None:
            return
        commands = _RADIO[method][0]
        try:
            await self._gateway.shell(self._serial, commands[True])
        except AdbCallError as exc:
            log.warning("could not switch %s back on for %s: %s", method, self._serial, exc)
