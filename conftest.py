"""Root test configuration: real PostgreSQL/SQLite and real Redis, never mocks of them."""

import os

import pytest


def rate_limits_clear() -> None:
    """Drop this session's rate-limit counters (they live in the shared Redis)."""
    import redis
    from django.conf import settings

    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_lookup_caches():
    """Each test starts with empty per-process caches (keys, prices, model modes): the
    rows they hold come and go with each test's database."""
    from core.ttlcache import caches_clear

    caches_clear()
    yield
    caches_clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no rate-limit counters."""
    yield
    rate_limits_clear()


def pytest_sessionfinish(session, exitstatus):
    """Drop what this session left in the broker (runs queued by API tests)."""
    import redis
    from django.conf import settings

    with redis.Redis.from_url(settings.CELERY_BROKER_URL) as client:
        client.delete(settings.SAMOKODER_QUEUE_GENERATION)
        client.delete(settings.SAMOKODER_QUEUE_PREVIEW)
    _test_sandboxes_remove()


def _test_sandboxes_remove() -> None:
    """Docker sandboxes the tests made (pipelines and previews on the Docker backend run
    in workers that keep them for the next command): each binds a temporary workspaces
    folder that its fixture has removed by now. One whose folder is gone is left over;
    another session's, whose folder still exists, is left alone."""
    import contextlib
    import tempfile
    from pathlib import Path

    with contextlib.suppress(Exception):  # no Docker here: nothing to remove
        import docker

        client = docker.from_env(timeout=10)
        ours = client.containers.list(all=True, filters={"label": "managed-by=samokoder"})
        for container in ours:
            sources = [m.get("Source", "") for m in container.attrs.get("Mounts", [])
                       if m.get("Destination") == "/workspace"]  # fmt: skip
            temporary = sources and sources[0].startswith(tempfile.gettempdir() + "/")
            if temporary and not Path(sources[0]).exists():
                container.remove(force=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI nothing may skip: a missing service or tool is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (not allowed): {report.longrepr}"


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    return [
        f"samokoder: database {database['ENGINE'].rsplit('.', 1)[-1]} {database.get('HOST') or ''}",
        f"samokoder: redis {settings.REDIS_URL}",
    ]
