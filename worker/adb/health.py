"""Health of one phone, checked for real (research brief §4.5).

An open local port proves nothing (the adb forward listener accepts even
when the phone side is dead), so a phone is ``ok`` only when an HTTP request
*through its proxy* returns a public IP. Battery, temperature and signal come
from ``dumpsys``; ``tcp:<port>`` on the device tells whether the proxy app
listens at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass, field

import httpx

from worker.adb.client import AdbGateway
from worker.adb.errors import EchoError
from worker.adb.settings import AdbSettings

_DATA_STATE = re.compile(r"mDataConnectionState=(-?\d+)")
_LEVEL = re.compile(r"\blevel=(\d+)")
_DATA_CONNECTED = 2  # TelephonyManager.DATA_CONNECTED
_CHARGING_STATES = (2, 5)  # BatteryManager: CHARGING, FULL


@dataclass(frozen=True)
class BatteryReading:
    level: int | None = None
    temperature: float | None = None
    charging: bool | None = None


@dataclass(frozen=True)
class RadioReading:
    data_connected: bool | None = None
    signal_level: int | None = None


@dataclass
class HealthReport:
    """Everything one check learned; ``reason`` is None when the phone is ok."""

    reason: str | None = None
    detail: str | None = None
    public_ip: str | None = None
    battery: BatteryReading = field(default_factory=BatteryReading)
    radio: RadioReading = field(default_factory=RadioReading)
    proxy_app_up: bool | None = None
    warnings: list[str] = field(default_factory=list)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_battery(text: str) -> BatteryReading:
    """Parse ``dumpsys battery`` (``key: value`` lines; temperature in tenths of °C)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip().lower()] = value.strip()
    level, scale = _int(values.get("level")), _int(values.get("scale"))
    if level is not None and scale and scale != 100:
        level = round(level * 100 / scale)
    tenths = _int(values.get("temperature"))
    status = _int(values.get("status"))
    return BatteryReading(
        level=level,
        temperature=tenths / 10 if tenths is not None else None,
        charging=status in _CHARGING_STATES if status is not None else None,
    )


def parse_telephony(text: str) -> RadioReading:
    """Parse ``dumpsys telephony.registry`` leniently (its format differs by Android version).

    Data is connected if any SIM reports ``mDataConnectionState=2``; the
    signal level is the best ``level=`` (0-4) on the ``mSignalStrength`` lines.
    """
    states = [int(v) for v in _DATA_STATE.findall(text)]
    levels = [int(v) for line in text.splitlines() if "mSignalStrength" in line for v in _LEVEL.findall(line)]
    return RadioReading(
        data_connected=(_DATA_CONNECTED in states) if states else None,
        signal_level=max(levels) if levels else None,
    )


async def _echo_one(client: httpx.AsyncClient, url: str) -> str:
    try:
        response = await client.get(url, headers={"Accept": "text/plain"})
    except httpx.HTTPError as exc:
        raise EchoError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise EchoError(f"{url}: HTTP {response.status_code}")
    text = response.text.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise EchoError(f"{url}: not an IP address: {text[:60]!r}") from exc


async def fetch_public_ip(proxy_url: str, echo_urls: tuple[str, ...], seconds: float) -> str:
    """The public IP seen by the echo endpoints through ``proxy_url``.

    Endpoints are asked at once; the ones that answer must agree (carriers
    with several NAT gateways can make them differ: that is reported, not
    guessed). Raises :class:`EchoError` if none answers.
    """
    try:
        async with (
            asyncio.timeout(seconds),
            httpx.AsyncClient(proxy=proxy_url, timeout=seconds, trust_env=False) as client,
        ):
            results = await asyncio.gather(*(_echo_one(client, u) for u in echo_urls), return_exceptions=True)
    except TimeoutError as exc:
        raise EchoError(f"no echo answer through {proxy_url} within {seconds:g}s") from exc
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, EchoError):
            raise result
    ips = {r for r in results if isinstance(r, str)}
    if not ips:
        raise EchoError("; ".join(str(r) for r in results))
    if len(ips) > 1:
        raise EchoError(f"echo endpoints disagree: {', '.join(sorted(ips))}")
    return ips.pop()


def _warnings(
    settings: AdbSettings, battery: BatteryReading, radio: RadioReading, wifi_on: bool
) -> list[str]:
    warnings = []
    if wifi_on:
        warnings.append("wifi_on")  # traffic may leave over Wi-Fi, not cellular
    if battery.temperature is not None and battery.temperature >= settings.hot_temperature:
        warnings.append("hot")
    if battery.level is not None and battery.level <= settings.low_battery and not battery.charging:
        warnings.append("battery_low")
    if radio.signal_level == 0:
        warnings.append("no_signal")
    return warnings


async def check_phone(
    gateway: AdbGateway, settings: AdbSettings, serial: str, proxy_url: str
) -> HealthReport:
    """Check one online phone whose forward is up; ADB failures end the check early.

    Raises :class:`AdbCallError` when the phone does not answer ADB (the
    caller turns its code into the status reason).
    """
    battery = parse_battery((await gateway.shell(serial, "dumpsys battery")).stdout)
    radio = parse_telephony((await gateway.shell(serial, "dumpsys telephony.registry")).stdout)
    wifi_on = (await gateway.shell(serial, "settings get global wifi_on")).text == "1"
    app_up = await gateway.probe_tcp(serial, settings.phone_proxy_port)
    warnings = _warnings(settings, battery, radio, wifi_on)
    report = HealthReport(battery=battery, radio=radio, proxy_app_up=app_up, warnings=warnings)
    try:
        report.public_ip = await fetch_public_ip(proxy_url, settings.echo_urls, settings.http_timeout)
    except EchoError as exc:
        report.detail = str(exc)
        if not app_up:
            report.reason = "proxy_app_down"
        elif radio.data_connected is False:
            report.reason = "no_cellular"
        else:
            report.reason = "echo_failed"
    return report
