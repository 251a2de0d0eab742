"""``python -m worker`` / ``wagate-worker``: run one worker with settings from the environment."""

from __future__ import annotations

import asyncio
import logging
import sys

from worker.errors import SettingsError
from worker.settings import WorkerSettings


def main() -> int:
    """Load the settings (failing fast with one line), then run until stopped."""
    try:
        settings = WorkerSettings.from_env()
    except SettingsError as exc:
        print(f"wagate-worker: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    from worker.app import WorkerApp

    return asyncio.run(WorkerApp(settings).run())


if __name__ == "__main__":
    sys.exit(main())
