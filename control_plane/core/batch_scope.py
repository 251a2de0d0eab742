"""Reads shared by the events of one ingester batch.

Inside :func:`batch_scope` a read made through :func:`memoized` runs once and is
reused by every later event of the batch: all of them are applied in one
transaction, so they would read the same rows anyway. Outside a scope (an API
request, a single event) every call reads afresh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_scope: ContextVar[dict[Hashable, Any] | None] = ContextVar("batch_scope", default=None)


@contextlib.contextmanager
def batch_scope() -> Iterator[None]:
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def memoized(key: Hashable, read: Callable[[], T]) -> T:
    scope = _scope.get()
    if scope is None:
        return read()
    if key not in scope:
        scope[key] = read()
    return scope[key]
