"""Unflushed commits (core.durability): for this transaction only, and only on PostgreSQL."""

import pytest
from django.db import connection, transaction

from core.durability import commit_unflushed

pytestmark = pytest.mark.django_db(transaction=True)


def _synchronous_commit() -> str | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_an_unflushed_commit_is_this_transactions_only():
    before = _synchronous_commit()
    with transaction.atomic():
        commit_unflushed()
        inside = _synchronous_commit()
    after = _synchronous_commit()

    if connection.vendor == "postgresql":  # the server's default, then off until COMMIT
        assert (before, inside, after) == ("on", "off", "on")
    else:  # SQLite (WAL, synchronous=NORMAL) already commits without a flush
        assert (before, inside, after) == (None, None, None)
