"""A scripted Android phone for the fake ADB server.

A :class:`FakePhone` holds what a real phone would: its ADB state, radios
(airplane mode, mobile data, Wi-Fi), a pool of public IPs it cycles through
on each reconnect to the cellular network, battery, temperature, signal,
the proxy app (port, package, running or not) and scripted faults. Its
:meth:`FakePhone.shell` answers the commands a controller sends with the
text real Android prints (see research brief §3.4).

Radio semantics (what real phones do, and what a rotation relies on):

* ``cmd connectivity airplane-mode enable`` takes the radios down and aborts
  every connection through the phone's proxy; ``disable`` brings cellular
  back after ``link_delay`` seconds with the next IP of ``ip_pool`` (or the
  same IP while ``sticky_toggles`` > 0, a sticky carrier);
* ``svc data disable`` / ``enable`` do the same for the data bearer (and
  advance the IP only when ``data_toggle_rotates``);
* ``supports_airplane_cmd=False`` makes ``cmd connectivity`` answer like an
  Android without that shell command, to exercise the ``svc data`` fallback;
* ``settings put global airplane_mode_on 1`` flips the flag only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tests.fakes.phone_proxy import ECHO_HOST, PhoneProxy

# What a Pixel on Android 13 reports for host-serial:<s>:features.
DEFAULT_FEATURES = (
    "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir,apex,abb,fixed_push_symlink_timestamp,abb_exec"
)

FaultKind = Literal["hang_transport", "hang_before_okay", "hang_after_okay", "drop_mid", "reset"]


@dataclass
class Fault:
    """A scripted failure.

    * ``hang_transport``: ``host:tport:serial:<s>`` and every ``host-serial:<s>:``
      request that needs the device never gets an answer (a wedged transport);
    * ``hang_before_okay``: the device service matching ``match`` is read but
      never answered;
    * ``hang_after_okay``: ``OKAY``, then silence;
    * ``drop_mid``: half the output, then FIN (the phone vanished mid-command);
    * ``reset``: ``OKAY``, then RST.

    Hang and reset faults never run the
    command on the phone (no side effect); ``drop_mid`` runs it and loses
    half of its output.

    ``match`` is a substring of the device service (``"dumpsys battery"``);
    empty matches every one. ``times`` bounds how often it fires (None: always).
    """

    kind: FaultKind
    match: str = ""
    times: int | None = None

    def fires_on(self, service: str) -> bool:
        return (self.times is None or self.times > 0) and self.match in service


@dataclass
class ShellResult:
    stdout: str = ""
    stderr: str = ""
    code: int = 0


@dataclass(eq=False)
class FakePhone:
    """One scripted phone; mutate fields directly or through the server's helpers."""

    serial: str
    state: str = "device"
    model: str = "SM-G973F"
    ip_pool: list[str] = field(default_factory=lambda: ["203.0.113.10", "203.0.113.20", "203.0.113.30"])
    proxy_port: int = 8080
    proxy_package: str = "com.gorillasoftware.everyproxy"
    proxy_app_running: bool = True
    app_dies_on_toggle: bool = False
    supports_airplane_cmd: bool = True
    sticky_toggles: int = 0
    data_toggle_rotates: bool = True
    link_delay: float = 0.0
    airplane: bool = False
    data: bool = True
    wifi: bool = False
    battery_level: int = 85
    temperature: float = 29.1
    charging: bool = True
    signal_level: int = 3
    sdk: int = 33
    features: str = DEFAULT_FEATURES
    faults: list[Fault] = field(default_factory=list)
    echo_hosts: tuple[str, ...] = (ECHO_HOST,)
    aliases: dict[str, str] = field(default_factory=dict)
    transport_id: int = 0
    ip_index: int = 0
    toggles: int = 0
    commands: list[str] = field(default_factory=list)
    proxy: PhoneProxy = field(init=False)
    _airplane_flag: bool = field(default=False, init=False)
    _link_up_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._airplane_flag = self.airplane
        self.proxy = PhoneProxy(
            lambda: self.public_ip,
            echo_hosts=self.echo_hosts,
            aliases=self.aliases,
            online=lambda: self.proxy_online,
        )

    # ---- derived state -----------------------------------------------------------
    @property
    def public_ip(self) -> str:
        return self.ip_pool[self.ip_index % len(self.ip_pool)]

    @property
    def cellular_up(self) -> bool:
        return not self.airplane and self.data and time.monotonic() >= self._link_up_at

    @property
    def proxy_online(self) -> bool:
        return self.cellular_up and self.proxy_app_running

    def take_fault(self, service: str, kinds: tuple[FaultKind, ...]) -> Fault | None:
        """The first armed fault of ``kinds`` matching ``service``, consumed once."""
        for fault in self.faults:
            if fault.kind in kinds and fault.fires_on(service):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    # ---- radios ------------------------------------------------------------------
    def set_airplane(self, on: bool) -> None:
        self._airplane_flag = on
        if on and not self.airplane:
            was_up = not self.airplane and self.data
            self.airplane = True
            if was_up:
                self._radio_down()
        elif not on and self.airplane:
            self.airplane = False
            if self.data:
                self._radio_up(rotate=True)

    def set_data(self, on: bool) -> None:
        if on == self.data:
            return
        self.data = on
        if self.airplane:
            return
        if on:
            self._radio_up(rotate=self.data_toggle_rotates)
        else:
            self._radio_down()

    def _radio_down(self) -> None:
        self.proxy.drop_connections()

    def _radio_up(self, *, rotate: bool) -> None:
        self.toggles += 1
        if rotate and self.sticky_toggles > 0:
            self.sticky_toggles -= 1
        elif rotate:
            self.ip_index += 1
        self._link_up_at = time.monotonic() + self.link_delay
        if self.app_dies_on_toggle:
            self.proxy_app_running = False

    # ---- shell -------------------------------------------------------------------
    def shell(self, command: str) -> ShellResult:
        """Run ``command`` as ``adb shell`` would on this phone."""
        command = command.strip()
        self.commands.append(command)
        for pattern, handler in _COMMANDS:
            match = pattern.fullmatch(command)
            if match:
                return handler(self, match)
        word = command.split()[0] if command else ""
        return ShellResult(stderr=f"/system/bin/sh: {word}: inaccessible or not found\n", code=127)

    def _getprop(self, m: re.Match[str]) -> ShellResult:
        props = {
            "ro.product.model": self.model,
            "ro.build.version.sdk": str(self.sdk),
            "ro.build.version.release": "13",
            "gsm.network.type": "LTE" if self.cellular_up else "Unknown",
            "gsm.operator.alpha": "Fake Mobile",
            "gsm.sim.state": "LOADED",
        }
        return ShellResult(stdout=props.get(m.group(1), "") + "\n")

    def _settings_get(self, m: re.Match[str]) -> ShellResult:
        values = {
            "airplane_mode_on": str(int(self._airplane_flag)),
            "mobile_data": str(int(self.data)),
            "wifi_on": str(int(self.wifi)),
        }
        return ShellResult(stdout=values.get(m.group(1), "null") + "\n")

    def _settings_put_airplane(self, m: re.Match[str]) -> ShellResult:
        self._airplane_flag = m.group(1) == "1"  # the flag only: radios do not move
        return ShellResult()

    def _airplane_cmd(self, m: re.Match[str]) -> ShellResult:
        if not self.supports_airplane_cmd:
            return ShellResult(stderr="No shell command implementation.\n", code=255)
        action = m.group(1)
        if action is None:
            return ShellResult(stdout="enabled\n" if self.airplane else "disabled\n")
        self.set_airplane(action == "enable")
        return ShellResult()

    def _svc_data(self, m: re.Match[str]) -> ShellResult:
        self.set_data(m.group(1) == "enable")
        return ShellResult()

    def _svc_wifi(self, m: re.Match[str]) -> ShellResult:
        self.wifi = m.group(1) == "enable"
        return ShellResult()

    def _broadcast_airplane(self, m: re.Match[str]) -> ShellResult:
        return ShellResult(
            stderr="java.lang.SecurityException: Permission Denial: not allowed to send broadcast "
            "android.intent.action.AIRPLANE_MODE from pid=4242, uid=2000\n",
            code=255,
        )

    def _pidof(self, m: re.Match[str]) -> ShellResult:
        if m.group(1) == self.proxy_package and self.proxy_app_running:
            return ShellResult(stdout="4321\n")
        return ShellResult(code=1)

    def _monkey(self, m: re.Match[str]) -> ShellResult:
        if m.group(1) != self.proxy_package:
            return ShellResult(stderr="** No activities found to run, monkey aborted.\n", code=251)
        self.proxy_app_running = True
        return ShellResult(stdout="  bash arg: -p\nEvents injected: 1\n")

    def _dumpsys_battery(self, m: re.Match[str]) -> ShellResult:
        lines = [
            "Current Battery Service state:",
            "  AC powered: false",
            f"  USB powered: {str(self.charging).lower()}",
            "  Wireless powered: false",
            "  Max charging current: 500000",
            "  Max charging voltage: 5000000",
            "  Charge counter: 2807000",
            f"  status: {2 if self.charging else 3}",
            f"  health: {3 if self.temperature >= 50 else 2}",
            "  present: true",
            f"  level: {self.battery_level}",
            "  scale: 100",
            "  voltage: 4213",
            f"  temperature: {round(self.temperature * 10)}",
            "  technology: Li-ion",
        ]
        return ShellResult(stdout="\n".join(lines) + "\n")

    def _dumpsys_telephony(self, m: re.Match[str]) -> ShellResult:
        radio_on = not self.airplane
        level = self.signal_level if radio_on else 0
        service = "0(IN_SERVICE)" if radio_on else "3(POWER_OFF)"
        lte = (
            f"CellSignalStrengthLte: rssi=-71 rsrp=-101 rsrq=-11 rssnr=2147483647 cqi=2147483647 "
            f"ta=2147483647 level={level}"
        )
        lines = [
            "last known state:",
            "  Phone Id=0",
            "  mCallState=0",
            f"  mServiceState={{mVoiceRegState={service}, mDataRegState={service}, mChannelNumber=1300}}",
            f"  mUserMobileDataState={str(self.data).lower()}",
            "  mSignalStrength=SignalStrength:{mCdma=Invalid,mGsm=CellSignalStrengthGsm: rssi=2147483647 "
            f"ber=2147483647 mTa=2147483647 level=0,mWcdma=Invalid,mTdscdma=Invalid,mLte={lte},mNr=Invalid}}",
            "  mDataActivity=0",
            f"  mDataConnectionState={2 if self.cellular_up else 0}",
            "  mDataConnectionNetworkType=13",
        ]
        return ShellResult(stdout="\n".join(lines) + "\n")

    def _echo(self, m: re.Match[str]) -> ShellResult:
        return ShellResult(stdout=m.group(1) + "\n")


_Handler = Callable[[FakePhone, "re.Match[str]"], ShellResult]
_COMMANDS: list[tuple[re.Pattern[str], _Handler]] = [
    (re.compile(r"getprop (\S+)"), FakePhone._getprop),
    (re.compile(r"settings get global (\S+)"), FakePhone._settings_get),
    (re.compile(r"settings put global airplane_mode_on ([01])"), FakePhone._settings_put_airplane),
    (re.compile(r"cmd connectivity airplane-mode(?: (enable|disable))?"), FakePhone._airplane_cmd),
    (re.compile(r"svc data (enable|disable)"), FakePhone._svc_data),
    (re.compile(r"svc wifi (enable|disable)"), FakePhone._svc_wifi),
    (re.compile(r"am broadcast .*AIRPLANE_MODE.*"), FakePhone._broadcast_airplane),
    (re.compile(r"pidof (\S+)"), FakePhone._pidof),
    (re.compile(r"monkey -p (\S+) .*"), FakePhone._monkey),
    (re.compile(r"dumpsys battery"), FakePhone._dumpsys_battery),
    (re.compile(r"dumpsys telephony\.registry"), FakePhone._dumpsys_telephony),
    (re.compile(r"echo (.*)"), FakePhone._echo),
]
