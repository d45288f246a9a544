"""Commits whose loss in a crash of the database server costs only their redoing.

A PostgreSQL commit waits for its WAL to reach the disk: on these machines about a
millisecond, the largest single cost of a pipeline step once its queries were few
(bench/pipeline.py). The worker's own bookkeeping that a resumed run redoes anyway (a
plain step, a command's log) need not wait: ``commit_unflushed`` lets such
a transaction's COMMIT return before the flush. A crash of the server within about
0.6 s (three times ``wal_writer_delay``) may lose that transaction, never part of it and
never out of order: WAL is flushed in order, so any later commit that waits (an LLM
request's record, a user's save) makes it durable too. The run then resumes from its
last durable step, as after a worker's crash. A claim waits: the first one's loss would
let the re-claim start the run's totals at zero under requests already recorded, and a
resumed one moves the killed command's output out of Redis. SQLite in WAL mode with
``synchronous=NORMAL`` (settings) already commits every transaction this way.
"""

from django.db import connection


def commit_unflushed() -> None:
    """Let the current transaction's COMMIT return before its WAL is on disk (PostgreSQL,
    this transaction only: ``SET LOCAL``); nothing on SQLite. Call inside ``atomic``."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
