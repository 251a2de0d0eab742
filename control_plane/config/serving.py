"""Getting a serving process ready before its first request."""

from __future__ import annotations

import gc


def ready_to_serve() -> None:
    """Import every view now, then take what is loaded out of the collector's way.

    Everything loaded at start lives as long as the process. Left to the collector,
    a full collection walked ~130,000 such objects and paused a web process for
    ~70 ms, a latency spike for every request in it at the time; frozen, the same
    collection takes ~0.6 ms. Views load lazily with the URLconf, hence the import.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view
    gc.collect()
    gc.freeze()
