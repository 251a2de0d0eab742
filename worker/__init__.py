"""wagate worker: hosts live WhatsApp sessions in Chromium and reports to the control plane.

Never imports Django (enforced by ruff's banned-api rule).
"""
