"""Loaded with ``-p`` before pytest-django configures Django: one Redis namespace per
test run (streams, cache, channel layer), since other runs and ``make run`` share
the Redis server."""

import os

os.environ.setdefault("WAGATE_REDIS_PREFIX", f"wagate-test-{os.getpid()}")
