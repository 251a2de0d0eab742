"""Settings: from WAGATE_ADB_* variables, validated once, failing fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.adb import AdbSettings, AdbSettingsError


def test_defaults_never_point_adbutils_at_a_real_adb():
    settings = AdbSettings.from_env({})

    assert (settings.server_host, settings.server_port, settings.adb_path) == ("127.0.0.1", 5037, "/bin/true")
    assert settings.echo_urls[0] == "https://api.ipify.org"


def test_environment_overrides_are_parsed():
    settings = AdbSettings.from_env(
        {
            "WAGATE_ADB_SERVER_HOST": "10.0.0.2",
            "WAGATE_ADB_SERVER_PORT": "5038",
            "WAGATE_ADB_FORWARD_BASE_PORT": "20000",
            "WAGATE_ADB_ECHO_URLS": "https://a.example/, https://b.example/",
            "WAGATE_ADB_OFF_TIMES": "3,8",
            "WAGATE_ADB_DATA_DIR": "/var/lib/wagate/adb",
            "WAGATE_ADB_PROXY_APP_PACKAGE": "com.example.proxy",
        }
    )

    assert (settings.server_host, settings.server_port, settings.forward_base_port) == (
        "10.0.0.2",
        5038,
        20000,
    )
    assert settings.echo_urls == ("https://a.example/", "https://b.example/")
    assert settings.off_times == (3.0, 8.0)
    assert settings.ports_file == Path("/var/lib/wagate/adb/ports.json")
    assert settings.proxy_app_package == "com.example.proxy"


def test_standard_adb_variables_are_honoured():
    settings = AdbSettings.from_env({"ANDROID_ADB_SERVER_PORT": "5099"})

    assert settings.server_port == 5099


@pytest.mark.parametrize(
    "env",
    [
        {"WAGATE_ADB_SERVER_PORT": "many"},
        {"WAGATE_ADB_ECHO_URLS": " , "},
        {"WAGATE_ADB_COMMAND_TIMEOUT": "30", "WAGATE_ADB_CALL_DEADLINE": "5"},
        {"WAGATE_ADB_FORWARD_BASE_PORT": "65500"},
    ],
)
def test_bad_values_fail_fast(env):
    with pytest.raises(AdbSettingsError):
        AdbSettings.from_env(env)
