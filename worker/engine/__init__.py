"""The WhatsApp engine: one live WhatsApp Web session per Chromium profile, driven by Playwright."""
