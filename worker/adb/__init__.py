"""ADB controller: Android phones attached to this host as rotating mobile proxies.

Public interface (docs/adb.md): :class:`AdbController` built from a frozen
:class:`AdbSettings`; :class:`RotationResult` turns into the shared
``proxy.rotated`` / ``proxy.rotation_failed`` events.
"""

from worker.adb.controller import AdbController
from worker.adb.errors import AdbCallError, AdbControllerError
from worker.adb.models import Method, PhoneStatus, RotationResult
from worker.adb.settings import AdbSettings, AdbSettingsError

__all__ = [
    "AdbCallError",
    "AdbController",
    "AdbControllerError",
    "AdbSettings",
    "AdbSettingsError",
    "Method",
    "PhoneStatus",
    "RotationResult",
]
