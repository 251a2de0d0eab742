"""The WhatsApp Web simulator: a stand-in for WhatsApp Web and the phones (tests, demo, benchmarks)."""
