"""Pipeline tests drive a real Celery worker (a subprocess) against the test database,
real Redis, the bubblewrap sandbox and the replay server, through the real SDK clients."""

from tests.live import (  # noqa: F401 - fixtures
    QUEUE,
    STALE_SECONDS,
    Worker,
    default_prices,
    pipeline_settings,
    sandbox_ready,
    sandbox_workspaces,
    worker,
    worker_env,
)
