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
