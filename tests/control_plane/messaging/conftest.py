"""Messaging fixtures: a connected session on a registered worker."""

import pytest

from tests.receiver import Receiver


@pytest.fixture
def connected(customer_a, worker):
    from control_plane.sessions.models import Session
    from control_plane.sessions.services import session_create

    session = session_create(user=customer_a.user, name="Sender")
    Session.objects.filter(pk=session.id).update(
        status="connected", worker_id=worker.worker_id, generation=2, phone="15550000001"
    )
    session.refresh_from_db()
    return session


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _media_dir(settings, tmp_path):
    settings.MEDIA_DIR = str(tmp_path / "media")
