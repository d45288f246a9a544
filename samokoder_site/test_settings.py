"""Settings of the test suite: pytest-django imports this module before any conftest runs.

The environment below must exist before `settings` is read, whatever the import order:
the SQLite test database is then a file that the Celery workers and daphne processes
the tests start can open (an in-memory one would be empty for them), passwords hash
fast, and rate-limit counters and queued runs carry this session's own prefix. The
processes the tests start inherit the environment, so they read the same values.
"""

import os
import uuid

os.environ.setdefault("SAMOKODER_TESTING", "1")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:12]}")
# Runs started by tests go to a queue of this session's own: a `make run` worker on the
# same Redis never picks them up, and the test workers never see another session's.
os.environ.setdefault("SAMOKODER_QUEUE_GENERATION", f"{os.environ['CACHE_KEY_PREFIX']}-generation")
os.environ.setdefault("SAMOKODER_QUEUE_PREVIEW", f"{os.environ['CACHE_KEY_PREFIX']}-previews")

from samokoder_site.settings import *  # noqa: F403
