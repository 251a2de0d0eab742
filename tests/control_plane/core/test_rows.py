"""row_insert writes what save(force_insert=True) would, in one statement."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.core.rows import row_insert
from control_plane.messaging.models import Message
from control_plane.sessions.models import Session

pytestmark = pytest.mark.django_db


def _message(session, **extra):
    return Message(
        session=session,
        owner=session.owner,
        direction=Message.Direction.OUT,
        chat="15550000002",
        to_number="15550000002",
        from_number="15550000001",
        text="hello",
        status=Message.Status.QUEUED,
        **extra,
    )


@pytest.fixture
def session(customer_a):
    return Session.objects.create(owner=customer_a.user, name="rows")


def test_every_column_is_stored_as_the_orm_would_store_it(session, django_assert_num_queries):
    dispatched = timezone.now()
    inserted = _message(session, dispatched_at=dispatched, dispatch_count=1, idempotency_key="k")
    saved = _message(session, dispatched_at=dispatched, dispatch_count=1, idempotency_key="k2")
    with django_assert_num_queries(1):
        row_insert(inserted)
    saved.save(force_insert=True)
    ours = Message.objects.filter(pk=inserted.pk).values().get()
    theirs = Message.objects.filter(pk=saved.pk).values().get()
    for column in ("id", "idempotency_key", "created_at"):
        ours.pop(column), theirs.pop(column)
    assert ours == theirs
    assert inserted.created_at is not None  # auto_now_add filled in on the instance
    assert Message.objects.get(pk=inserted.pk).dispatched_at == dispatched


def test_the_instance_counts_as_saved_afterwards(session):
    message = _message(session)
    row_insert(message)
    message.text = "edited"
    message.save()  # an UPDATE now, not a second INSERT
    assert Message.objects.get(pk=message.pk).text == "edited"


def test_a_refused_row_raises_integrity_error_and_stores_nothing(session):
    row_insert(_message(session, idempotency_key="same"))
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(_message(session, idempotency_key="same"))
    assert Message.objects.count() == 1


def test_a_model_whose_database_assigns_the_key_is_refused():
    from django.contrib.contenttypes.models import ContentType  # an AutoField key

    with pytest.raises(TypeError):
        row_insert(ContentType(app_label="x", model="y"))
