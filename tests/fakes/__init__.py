"""Reusable fakes for tests: a protocol-level ADB server with scripted phones,
and a real HTTP forward proxy standing in for a phone's proxy app.

* :class:`FakeAdbServer` (``adb_server``): the host ADB server on
  ``127.0.0.1:<random>``, in its own thread, for the real adbutils client.
* :class:`FakePhone`, :class:`Fault` (``adb_phone``): a phone's radios, IP
  pool, battery, signal, proxy app and scripted faults.
* :class:`PhoneProxy` (``phone_proxy``): HTTP proxy (CONNECT and absolute
  URIs) that answers the echo host with the phone's public IP, forwards other
  traffic to loopback targets only, counts it, and drops it while offline.
"""

from tests.fakes.adb_phone import FakePhone, Fault
from tests.fakes.adb_server import FakeAdbServer
from tests.fakes.phone_proxy import ECHO_HOST, ECHO_URL, PhoneProxy

__all__ = ["ECHO_HOST", "ECHO_URL", "FakeAdbServer", "FakePhone", "Fault", "PhoneProxy"]
