"""How the control plane talks to PostgreSQL."""

import pytest
from django.db import connection

from control_plane.sessions.models import Session
from control_plane.sessions.selectors import session_for_send

pytestmark = pytest.mark.django_db


def test_a_statement_run_again_and_again_is_prepared_once(customer_a):
    session = Session.objects.create(owner=customer_a.user, name="prepared")
    for _ in range(6):  # psycopg prepares a statement on its fifth run on a connection
        session_for_send(user=customer_a.user, session_id=session.id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "instances_session" WHERE "id" = $1' in statement for statement in prepared), prepared
