"""Wire types shared by the control plane and the worker.

This package is the only contract between the processes: typed commands
(control plane -> worker), typed events (worker -> control plane), the
envelope both travel in, the Redis names they travel on, and the id
normalisation both sides must agree on. It imports neither Django nor
Playwright.
"""

from shared.envelope import SCHEMA_VERSION, Envelope, WireError, decode, encode

__all__ = ["SCHEMA_VERSION", "Envelope", "WireError", "decode", "encode"]

# Importing these registers every wire type.
from shared import commands as commands
from shared import events as events
