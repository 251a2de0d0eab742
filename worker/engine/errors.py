"""The engine's exceptions. Playwright errors are mapped to these at the edge."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every engine failure; ``retryable`` says whether trying again may help."""

    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LaunchError(EngineError):
    """Chromium could not be started or the page could not be opened."""

    retryable = True


class PageError(EngineError):
    """The page did not answer as the adapter expects (closed, crashed, changed)."""

    retryable = True


class NotConnectedError(EngineError):
    """The operation needs a linked, connected session."""


class SendError(EngineError):
    """A message could not be sent. ``code`` is machine-readable:

    ``not_connected``, ``invalid_recipient``, ``media_invalid``, ``refused``,
    ``timeout``, ``page_error``.
    """

    def __init__(self, code: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.code = code
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


class PairingError(EngineError):
    """A pairing code could not be obtained."""


class SnapshotError(EngineError):
    """A profile snapshot could not be made or restored; the message says why."""
