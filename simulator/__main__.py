"""``python -m simulator --port P``: run the WhatsApp Web simulator."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from simulator.app import run
from simulator.config import SimulatorConfig


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    d = SimulatorConfig()
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--qr-interval", type=float, default=d.qr_interval, help="seconds each QR lives")
    p.add_argument("--refs-per-batch", type=int, default=d.refs_per_batch, help="QRs before the idle screen")
    p.add_argument("--pairing-code-ttl", type=float, default=d.pairing_code_ttl)
    p.add_argument("--read-after", type=float, default=d.read_after, help="auto-read after S seconds (0=off)")
    p.add_argument("--ack-delay", type=float, default=d.ack_delay)
    p.add_argument("--page-weight-mb", type=int, default=d.page_weight_mb)
    p.add_argument("--reconnect-delay", type=float, default=d.reconnect_delay)
    p.add_argument("--state-file", type=Path, default=None)
    p.add_argument("--max-accounts", type=int, default=d.max_accounts)
    p.add_argument("--max-inbox", type=int, default=d.max_inbox)
    p.add_argument("--max-browsers", type=int, default=d.max_browsers)
    a = p.parse_args(argv)
    return SimulatorConfig(
        host=a.host,
        port=a.port,
        qr_interval=a.qr_interval,
        refs_per_batch=a.refs_per_batch,
        pairing_code_ttl=a.pairing_code_ttl,
        read_after=a.read_after,
        ack_delay=a.ack_delay,
        page_weight_mb=a.page_weight_mb,
        reconnect_delay=a.reconnect_delay,
        state_file=a.state_file,
        max_accounts=a.max_accounts,
        max_inbox=a.max_inbox,
        max_browsers=a.max_browsers,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m simulator`` and the ``wagate-simulator`` script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = parse_args(argv)
    print(f"wagate simulator on http://{config.host}:{config.port}/ (phone page: /phone)", flush=True)
    run(config)


if __name__ == "__main__":
    main()
