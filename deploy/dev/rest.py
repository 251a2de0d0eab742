"""``make rest``: run every rest/*.http file with httpyac against a running stack.

httpyac comes from the npm registry (pinned below) into .wagate/node on first
use. Variables passed to every file: ``baseUrl`` (``REST_BASE_URL``, default
http://127.0.0.1:$PORT), ``simulatorUrl``, ``enrollmentToken`` and the demo
operator's login from .wagate/demo-logins.json (written by ``make run``).
Fails (exit 1) when any assertion fails or any file errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HTTPYAC_VERSION = "6.16.7"
ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("WAGATE_DATA_DIR", ROOT / ".wagate"))
NODE_DIR = DATA / "node"
HTTPYAC = NODE_DIR / "node_modules" / ".bin" / "httpyac"


def ensure_httpyac() -> None:
    if HTTPYAC.exists():
        return
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"[rest] installing httpyac {HTTPYAC_VERSION} from the npm registry", flush=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(NODE_DIR),
            f"httpyac@{HTTPYAC_VERSION}",
        ],
        check=True,
    )


def variables() -> list[str]:
    port = os.environ.get("PORT", "8000")
    values = {
        "baseUrl": os.environ.get("REST_BASE_URL", f"http://127.0.0.1:{port}"),
        "simulatorUrl": os.environ.get(
            "REST_SIMULATOR_URL", f"http://127.0.0.1:{os.environ.get('SIMULATOR_PORT', '8100')}"
        ),
        "enrollmentToken": os.environ.get("FLEET_ENROLLMENT_TOKEN", "dev-enrollment-token"),
    }
    logins_file = DATA / "demo-logins.json"
    if logins_file.exists():
        operator = json.loads(logins_file.read_text())["operator"]
        values.update(operatorEmail=operator["email"], operatorPassword=operator["password"])
    return [f"{name}={value}" for name, value in values.items()]


def main() -> int:
    files = sorted((ROOT / "rest").glob("*.http"))
    if not files:
        print("[rest] no rest/*.http files", file=sys.stderr)
        return 1
    ensure_httpyac()
    failed = []
    for path in files:
        print(f"[rest] {path.relative_to(ROOT)}", flush=True)
        done = subprocess.run(
            [
                str(HTTPYAC),
                "send",
                str(path),
                "--all",
                "-o",
                "none",
                "--output-failed",
                "exchange",
                "--var",
                *variables(),
            ],
            cwd=ROOT / "rest",
        )
        if done.returncode != 0:
            failed.append(path.name)
    if failed:
        print(f"[rest] FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"[rest] all {len(files)} files passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
