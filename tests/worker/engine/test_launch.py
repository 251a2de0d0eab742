"""Launch options: lean flags, the merged --disable-features switch, proxy fields."""

from __future__ import annotations

from shared.types import ProxySpec
from worker.engine.config import Backoff, EngineConfig
from worker.engine.launch import (
    FALLBACK_PLAYWRIGHT_FEATURES,
    chromium_args,
    launch_options,
    playwright_disabled_features,
)


def test_playwright_feature_list_is_read_from_the_installed_driver():
    features = playwright_disabled_features()
    assert "DestroyProfileOnBrowserClose" in features and "PaintHolding" in features
    assert set(features) >= set(FALLBACK_PLAYWRIGHT_FEATURES.split(",")) - {"msForceBrowserSignIn"}


def test_one_disable_features_switch_with_both_lists():
    args, ignore = chromium_args(EngineConfig())
    switches = [a for a in args if a.startswith("--disable-features=")]
    assert len(switches) == 1
    merged = switches[0].split("=", 1)[1].split(",")
    assert set(playwright_disabled_features()) <= set(merged)
    assert {"WebUIOmniboxPopup", "SpareRendererForSitePerProcess"} <= set(merged)
    assert ignore == ["--disable-features=" + ",".join(playwright_disabled_features())]


def test_required_flags_are_always_present():
    for lean in (True, False):
        args, _ = chromium_args(EngineConfig(lean=lean))
        for flag in (
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
        ):
            assert flag in args


def test_proxy_credentials_travel_in_fields_not_in_the_url():
    spec = ProxySpec(server="http://10.0.0.5:3128", username="u", password="p@ss")
    options = launch_options(EngineConfig(), spec)
    assert options["proxy"] == {"server": "http://10.0.0.5:3128", "username": "u", "password": "p@ss"}
    assert "proxy" not in launch_options(EngineConfig(), None)


def test_user_agent_is_a_normal_desktop_chrome():
    options = launch_options(EngineConfig(), None)
    assert "HeadlessChrome" not in options["user_agent"] and "Chrome/" in options["user_agent"]
    assert options["executable_path"] == "/usr/bin/chromium"


def test_backoff_grows_and_caps():
    backoff = Backoff(initial=1, factor=2, maximum=5, attempts=4)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
