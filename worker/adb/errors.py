"""Errors of the ADB controller, and the mapping of adbutils/socket errors onto them.

Every failure of a call to the ADB server ends as one :class:`AdbCallError`
with a short machine ``code``; the controller turns it into a phone status,
never into a crashed worker.
"""

from __future__ import annotations

from adbutils import AdbError, AdbTimeout
from adbutils.errors import AdbConnectionError

# code -> whether retrying later may help without an operator.
RETRYABLE: dict[str, bool] = {
    "timeout": True,
    "server_unreachable": True,
    "disconnected": True,
    "offline": True,
    "absent": True,
    "io_error": True,
    "unauthorized": False,
    "closed": True,
    "adb_error": False,
}


class AdbControllerError(Exception):
    """Base of the controller's errors."""


class AdbCallError(AdbControllerError):
    """One call to the ADB server failed; ``code`` says how (see ``RETRYABLE``)."""

    def __init__(self, code: str, what: str, detail: str) -> None:
        super().__init__(f"{what}: {code}: {detail}")
        self.code = code
        self.what = what
        self.detail = detail

    @property
    def retryable(self) -> bool:
        return RETRYABLE.get(self.code, False)


class EchoError(AdbControllerError):
    """The public IP could not be read through a phone's proxy."""


def classify(what: str, exc: BaseException) -> AdbCallError:
    """Map an exception raised by adbutils (or the socket under it) to an AdbCallError."""
    message = str(exc).strip() or type(exc).__name__
    first_line = message.splitlines()[0]
    if isinstance(exc, AdbTimeout | TimeoutError):
        return AdbCallError("timeout", what, first_line)
    if isinstance(exc, AdbConnectionError):
        return AdbCallError("server_unreachable", what, first_line)
    if isinstance(exc, AdbError):
        return AdbCallError(_code_of_fail(message), what, first_line)
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return AdbCallError("disconnected", what, f"connection dropped mid-command ({first_line})")
    if isinstance(exc, OSError):
        return AdbCallError("io_error", what, first_line)
    return AdbCallError("adb_error", what, f"{type(exc).__name__}: {first_line}")


def _code_of_fail(message: str) -> str:
    """The code for the text of an ADB ``FAIL`` (wording from AOSP adb, see the brief §1.4)."""
    lowered = message.lower()
    if "unauthorized" in lowered or "authorizing" in lowered:
        return "unauthorized"
    if "offline" in lowered or "still connecting" in lowered:
        return "offline"
    if "not found" in lowered and "device" in lowered:
        return "absent"
    if lowered == "closed":
        return "closed"
    if "connection closed" in lowered or "shell output invalid" in lowered:
        return "disconnected"
    return "adb_error"
