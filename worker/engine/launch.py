"""Chromium launch options for one session: lean flags, user agent, proxy, viewport.

Playwright passes its own ``--disable-features=...`` list, and a second
``--disable-features`` switch would replace it rather than add to it
(research/chromium-memory.md). So the runtime drops Playwright's switch
(``ignore_default_args``) and passes one switch with both lists merged.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from pathlib import Path
from typing import Any

from shared.types import ProxySpec
from worker.engine.config import EngineConfig

log = logging.getLogger(__name__)

CRASHPAD_HOME = ".crashpad"
# Baseline flags every session gets, lean or not (issue 4).
BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--mute-audio",
)
# Memory measures, each measured in docs/engine.md.
LEAN_ARGS = (
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-site-isolation-trials",
    "--renderer-process-limit=2",
    "--disable-software-rasterizer",
    "--enable-low-end-device-mode",
)
# Playwright 1.65's list, used if its bundle cannot be read (tests check it still can).
FALLBACK_PLAYWRIGHT_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,"
    "HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,"
    "AvoidCorsURLLoaderRestartOnRedirect,TcpPortRandomizationWin,OptimizationHints,"
    "NetworkTimeServiceQuerying,AimEnabled,PreconnectToSearch,msForceBrowserSignIn,"
    "msEdgeUpdateLaunchServicesPreferredVersion"
)


@functools.cache
def playwright_disabled_features() -> tuple[str, ...]:
    """The features the installed Playwright disables, read from its driver bundle."""
    import playwright

    lib = Path(playwright.__file__).parent / "driver" / "package" / "lib"
    pattern = re.compile(r"disabledFeatures = \[(.*?)\]\.filter", re.S)
    for bundle in (lib / "coreBundle.js", lib / "server" / "chromium" / "chromiumSwitches.js"):
        try:
            match = pattern.search(bundle.read_text(encoding="utf-8"))
        except OSError:
            continue
        if match:
            body = re.sub(r"//[^\n]*", "", match.group(1))
            names = tuple(re.findall(r'"([A-Za-z0-9_]+)"', body))
            if names:
                return names
    log.warning("could not read Playwright's disabled features; using the 1.65 list")
    return tuple(FALLBACK_PLAYWRIGHT_FEATURES.split(","))


def disable_features_switch(extra: tuple[str, ...]) -> tuple[str, str]:
    """(Playwright's own switch to ignore, the merged switch to pass instead)."""
    ours = playwright_disabled_features()
    merged = list(dict.fromkeys([*ours, *extra]))
    return "--disable-features=" + ",".join(ours), "--disable-features=" + ",".join(merged)


def chromium_args(config: EngineConfig) -> tuple[list[str], list[str]]:
    """(args, ignore_default_args) for ``launch_persistent_context``."""
    args = list(BASE_ARGS)
    ignore: list[str] = []
    if config.lean:
        args += LEAN_ARGS
        if config.js_flags:
            args.append(f"--js-flags={config.js_flags}")
    if config.disable_features:
        playwright_switch, merged = disable_features_switch(config.disable_features)
        ignore.append(playwright_switch)
        args.append(merged)
    args += config.extra_args
    return args, ignore


def launch_options(
    config: EngineConfig, proxy: ProxySpec | None, profile_dir: Path | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``chromium.launch_persistent_context`` (without the profile dir itself)."""
    args, ignore = chromium_args(config)
    width, height = config.viewport
    options: dict[str, Any] = {
        "executable_path": config.chromium_path,
        "headless": config.headless,
        "args": args,
        "ignore_default_args": ignore,
        "user_agent": config.user_agent,
        "viewport": {"width": width, "height": height},
        "locale": config.locale,
        "timeout": config.timeouts.launch * 1000,
        "handle_sigint": False,  # the worker owns shutdown; Chromium must not die first on Ctrl-C
        "handle_sigterm": False,
        "handle_sighup": False,
    }
    if profile_dir is not None:
        # Chromium derives crashpad's database from its config home: one per profile makes
        # each session's chrome_crashpad_handler processes recognisable (and reapable).
        options["env"] = {**os.environ, "CHROME_CONFIG_HOME": str(profile_dir.resolve() / CRASHPAD_HOME)}
    if proxy is not None:
        # Credentials only in Playwright's fields: Chromium drops them from a proxy URL.
        options["proxy"] = {"server": proxy.server}
        if proxy.username:
            options["proxy"]["username"] = proxy.username
        if proxy.password:
            options["proxy"]["password"] = proxy.password
    return options
