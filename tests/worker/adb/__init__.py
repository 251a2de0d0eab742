"""Tests of the ADB mobile-proxy controller (fake ADB server, real adbutils)."""
