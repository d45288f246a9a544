from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from llm.replay import ReplayServer, Transcript
from tests.accounts.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def fresh_rate_window():
    """Wait, if needed, so a burst of requests falls inside one rate-limit window.

    django-ratelimit counts in fixed windows; five requests that straddle a window's
    end would be counted in two, and the sixth would pass. Called with the group and
    client IP a test is about to use; waits at most one window's tail (< 20 s).
    """
    import time

    from django.conf import settings
    from django.test import RequestFactory
    from django_ratelimit.core import get_usage

    def usage(group: str, ip: str, rate: str | None):
        request = RequestFactory().post("/", REMOTE_ADDR=ip)
        rate = rate or settings.RATELIMIT_AUTH
        return get_usage(request, group=group, key="ip", rate=rate, increment=False)

    def wait(group: str, ip: str = "127.0.0.1", rate: str | None = None) -> None:
        current = usage(group, ip, rate)
        if current is not None and current["time_left"] < 20:
            time.sleep(current["time_left"] + 0.5)

    def window(group: str, ip: str = "127.0.0.1", rate: str | None = None) -> int:
        """Which window counts now (its end, in seconds, as django-ratelimit computes it
        for an IP key): a burst that saw it change was split in two."""
        from django_ratelimit.core import _get_window, _split_rate

        return _get_window(ip, _split_rate(rate or settings.RATELIMIT_AUTH)[1])

    def burst(run, group: str, ip: str = "127.0.0.1", rate: str | None = None):
        """``run()`` (a burst of requests) inside one window. Twice in CI the sixth request
        passed although all six ran inside 20 s of one window; if the window changed under
        the burst (a clock step), it is run again from clean counters, once."""
        from conftest import rate_limits_clear

        for _attempt in range(2):
            wait(group, ip, rate)
            before = window(group, ip, rate)
            result = run()
            after = window(group, ip, rate)
            if after == before:
                return result
            rate_limits_clear()
        raise AssertionError(f"the rate-limit window moved twice ({before} -> {after})")

    wait.burst = burst
    return wait


@pytest.fixture(scope="session")
def replay_server() -> Iterator[ReplayServer]:
    """One server for the session, on a free loopback port."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> ReplayServer:
    """The session's server with an empty transcript and no recorded requests.

    Load this test's answers with `replay.load(Transcript.model_validate({...}))` or
    `replay.load_dict({...})`; point the SDKs at `replay.url`.
    """
    replay_server.load(Transcript())
    return replay_server
