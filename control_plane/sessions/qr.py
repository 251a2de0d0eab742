"""QR images for the scan: PNG bytes and data URIs (rendered here, never fetched)."""

from __future__ import annotations

import base64
import io

import qrcode
from qrcode.constants import ERROR_CORRECT_L


def qr_png(text: str) -> bytes:
    image = qrcode.make(text, error_correction=ERROR_CORRECT_L, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_data_uri(text: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode()
