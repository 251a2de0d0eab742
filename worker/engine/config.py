"""Engine settings: one frozen object per worker, shared by every session runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

# A current desktop Chrome on Linux; headless Chromium would announce "HeadlessChrome".
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Timeouts:
    """Seconds each step may take before it counts as failed."""

    launch: float = 30.0
    navigation: float = 30.0
    page_ready: float = 30.0  # until the adapter sees the page's modules
    send: float = 60.0
    pairing_code: float = 30.0
    logout: float = 10.0
    close: float = 10.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial * factor**n`` capped at ``maximum``, ``attempts`` tries."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0
    attempts: int = 5

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based)."""
        return float(min(self.maximum, self.initial * self.factor ** max(0, attempt - 1)))


@dataclass(frozen=True)
class EngineConfig:
    """How sessions run: which Chromium, which WhatsApp Web, how lean, how patient.

    ``qr_ttl`` is how long one QR is assumed to live (the live service rotates
    about every 20 s; the page does not say). ``reconnect_grace`` is how long a
    session may sit in ``reconnecting`` while the page tries on its own before
    the runtime reloads it; ``reconnect`` bounds those reloads and ``relaunch``
    bounds relaunching a crashed Chromium.
    """

    chromium_path: str = "/usr/bin/chromium"
    whatsapp_url: str = "https://web.whatsapp.com/"
    headless: bool = True
    block_media: bool = True
    viewport: tuple[int, int] = (800, 600)
    user_agent: str = DEFAULT_USER_AGENT
    locale: str = "en-US"
    lean: bool = True  # the measured memory flags (docs/engine.md); False = Playwright defaults only
    extra_args: tuple[str, ...] = ()
    disable_features: tuple[str, ...] = (
        "WebUIOmniboxPopup",
        "WebUIOmniboxAimPopup",
        "WebUIOmniboxFullPopup",
        "SpareRendererForSitePerProcess",
        "Translate",
        "MediaRouter",
        "OptimizationGuideModelDownloading",
        "AutofillServerCommunication",
        "InterestFeedContentSuggestions",
        "CertificateTransparencyComponentUpdater",
    )
    js_flags: str = ""  # e.g. "--max-semi-space-size=2": measured no saving here (docs/engine.md)
    timeouts: Timeouts = field(default_factory=Timeouts)
    qr_ttl: float = 20.0
    pairing_code_ttl: float = 180.0
    reconnect_grace: float = 20.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(initial=2.0, attempts=5))
    relaunch: Backoff = field(default_factory=lambda: Backoff(initial=1.0, attempts=3))
    event_queue_max: int = 10_000
