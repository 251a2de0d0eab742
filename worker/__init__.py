"""wagate worker: hosts live WhatsApp sessions in Chromium and reports to the control plane.

Never imports Django (enforced by ruff's banned-api rule). Run it with
``python -m worker`` or ``wagate-worker`` (docs/worker.md).
"""

from importlib import metadata

try:
    __version__ = metadata.version("wagate")
except metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
