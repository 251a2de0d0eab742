import pytest

from tests.receiver import Receiver


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on loopback
    settings.WEBHOOK_RETRY_BASE = 0.01
    running = Receiver().start()
    yield running
    running.stop()
