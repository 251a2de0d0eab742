"""Simulator settings: one frozen object built from the command line (or by tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SimulatorConfig:
    """Knobs of one simulator process.

    Times are seconds. ``qr_interval`` is how long each QR reference lives;
    ``refs_per_batch`` how many references the page shows before it goes idle
    and waits for ``Cmd.refreshQR()`` (WhatsApp Web shows about six).
    """

    host: str = "127.0.0.1"
    port: int = 8100
    qr_interval: float = 20.0
    refs_per_batch: int = 6
    pairing_code_ttl: float = 180.0
    read_after: float = 0.0  # 0 = never read automatically; the phone reads via /phone/{n}/read
    ack_delay: float = 0.0  # extra delay before server/delivery acks (the "slow acks" fault raises it)
    page_weight_mb: int = 0  # extra JS heap + DOM the page holds, to look like WhatsApp Web
    reconnect_delay: float = 1.0  # how soon a page retries a dropped websocket
    state_file: Path | None = None
    max_accounts: int = 10_000
    max_inbox: int = 1_000  # per account, oldest dropped first
    max_browsers: int = 2_000
    max_pending: int = 1_000  # undelivered messages/acks queued per linked device
    max_message_index: int = 200_000  # sent message id -> sender, for routing acks
    max_upload_bytes: int = 64 * 1024 * 1024
    wa_version: str = "2.3000.1031980585"
    platform: str = "android"
