"""Who a rate limit counts: the client address, and X-Forwarded-For only behind trusted proxies."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from core.ratelimit import client_ip
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
WRONG = "a wrong guess"


def _ip(forwarded: str | None, remote: str = PROXY) -> str:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(request)


def test_without_trusted_proxies_the_header_is_never_read(settings):
    settings.SAMOKODER_TRUSTED_PROXIES = 0
    assert _ip("203.0.113.7") == PROXY
    assert _ip(None) == PROXY


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        # The client may write anything before what our proxy appends: the rightmost counts.
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (1, "2001:db8::5", "2001:db8::5"),
        (1, " 203.0.113.7 ", "203.0.113.7"),
    ],
)
def test_behind_n_trusted_proxies_the_nth_address_from_the_right_counts(
    settings, proxies, forwarded, expected
):
    settings.SAMOKODER_TRUSTED_PROXIES = proxies
    assert _ip(forwarded) == expected


@pytest.mark.parametrize(
    "forwarded", [None, "", "not an address", "203.0.113.7, ", "[::1]:80", "1.2.3.4.5"]
)
def test_a_missing_or_malformed_header_falls_back_to_the_peer_address(settings, forwarded):
    settings.SAMOKODER_TRUSTED_PROXIES = 1
    assert _ip(forwarded) == PROXY


def test_fewer_hops_than_trusted_proxies_falls_back_to_the_peer_address(settings):
    settings.SAMOKODER_TRUSTED_PROXIES = 2
    assert _ip("203.0.113.7") == PROXY


def _login(client: Client, email: str, forwarded: str, password: str = WRONG):
    return client.post(
        reverse("accounts:login"),
        {"email": email, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_clients_behind_a_trusted_proxy_are_limited_separately(
    settings, client, user, fresh_rate_window
):
    settings.SAMOKODER_TRUSTED_PROXIES = 1

    def burst():
        return [_login(client, user.email, "203.0.113.7").status_code for _ in range(6)]

    statuses = fresh_rate_window.burst(burst, "auth.login", ip="203.0.113.7")
    assert statuses == [400] * 5 + [429]
    assert _login(client, user.email, "203.0.113.8", PASSWORD).status_code == 302


def test_a_forged_header_does_not_escape_the_limit(settings, client, user, fresh_rate_window):
    settings.SAMOKODER_TRUSTED_PROXIES = 1

    def burst():
        # Each request claims another origin, but the proxy appends the real one.
        return [
            _login(client, user.email, f"198.51.100.{n}, 203.0.113.7").status_code for n in range(6)
        ]

    statuses = fresh_rate_window.burst(burst, "auth.login", ip="203.0.113.7")
    assert statuses == [400] * 5 + [429]


def test_a_malformed_header_is_counted_by_the_peer_address_not_a_500(
    settings, client, user, fresh_rate_window
):
    settings.SAMOKODER_TRUSTED_PROXIES = 1

    def burst():
        return [_login(client, user.email, "garbage, ,").status_code for _ in range(6)]

    statuses = fresh_rate_window.burst(burst, "auth.login", ip=PROXY)
    assert statuses == [400] * 5 + [429]
