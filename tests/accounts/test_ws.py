"""A socket lives only as long as the sign-in it was opened with (session or access token)."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from rest_framework_simplejwt.tokens import AccessToken

from projects.services import project_create
from samokoder_site.asgi import application
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")
NEW_PASSWORD = "a brand new passphrase"
CLOSED_WITHIN = 3  # seconds


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Watched", description="d")


def _browser(user) -> Client:
    client = Client()
    client.post(reverse("accounts:login"), {"email": user.email, "password": PASSWORD})
    assert "_auth_user_id" in client.session
    return client


def _cookie(browser: Client) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]


def _bearer(token) -> list[tuple[bytes, bytes]]:
    return [ORIGIN, (b"authorization", f"Bearer {token}".encode())]


async def _open(project, headers) -> WebsocketCommunicator:
    listener = WebsocketCommunicator(application, f"/ws/projects/{project.pk}/", headers)
    connected, _ = await listener.connect()
    assert connected
    assert await listener.receive_nothing(timeout=0.3)  # open, and quiet (no runs yet)
    return listener


async def _closed_with(listener: WebsocketCommunicator) -> int | None:
    """The close code if the server closes the socket within CLOSED_WITHIN s, else None."""
    if await listener.receive_nothing(timeout=CLOSED_WITHIN):
        return None
    output = await listener.receive_output()
    assert output["type"] == "websocket.close"
    return output["code"]


async def _close_codes_then_disconnect(*listeners: WebsocketCommunicator) -> list[int | None]:
    codes = [await _closed_with(listener) for listener in listeners]
    for listener in listeners:
        await listener.disconnect()
    return codes


def _change_password(browser: Client) -> None:
    response = browser.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def test_logging_out_closes_the_sockets_of_that_session_only(project, user):
    leaving, staying = _browser(user), _browser(user)
    token = AccessToken.for_user(user)

    async def scenario():
        of_leaving = await _open(project, _cookie(leaving))
        of_staying = await _open(project, _cookie(staying))
        of_token = await _open(project, _bearer(token))
        await sync_to_async(leaving.post)(reverse("accounts:logout"))
        return await _close_codes_then_disconnect(of_leaving, of_staying, of_token)

    assert async_to_sync(scenario)() == [4401, None, None]


def test_a_password_change_closes_other_sessions_and_earlier_tokens(project, user):
    changer, other = _browser(user), _browser(user)
    earlier = AccessToken.for_user(user)

    async def scenario():
        of_other = await _open(project, _cookie(other))
        of_token = await _open(project, _bearer(earlier))
        await sync_to_async(_change_password)(changer)
        # The browser that changed it is still signed in: a new socket of it stays open.
        of_changer = await _open(project, _cookie(changer))
        return await _close_codes_then_disconnect(of_other, of_token, of_changer)

    assert async_to_sync(scenario)() == [4401, 4401, None]


def test_sockets_of_the_browser_that_changed_the_password_stay_open(project, user):
    # Its session gets a new key (Django cycles it); its open sockets follow the new key,
    # so they still close when that browser logs out later.
    changer = _browser(user)

    async def scenario():
        listener = await _open(project, _cookie(changer))
        await sync_to_async(_change_password)(changer)
        after_change = await _closed_with(listener)
        await sync_to_async(changer.post)(reverse("accounts:logout"))
        after_logout = await _closed_with(listener)
        await listener.disconnect()
        return after_change, after_logout

    assert async_to_sync(scenario)() == (None, 4401)


def test_a_password_set_elsewhere_closes_the_socket_at_the_next_check(settings, project, user):
    # The admin or `manage.py changepassword` sends no message: the periodic check sees it.
    settings.SAMOKODER_WS_SIGN_IN_CHECK_SECONDS = 0.5
    browser = _browser(user)

    def set_password() -> None:
        user.set_password(NEW_PASSWORD)
        user.save(update_fields=["password"])

    async def scenario():
        listener = await _open(project, _cookie(browser))
        await sync_to_async(set_password)()
        code = await _closed_with(listener)
        await listener.disconnect()
        return code

    assert async_to_sync(scenario)() == 4401


def test_a_socket_opened_with_a_token_closes_when_the_token_expires(settings, project, user):
    settings.SAMOKODER_WS_SIGN_IN_CHECK_SECONDS = 0.5
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=4))  # long enough to open it on a busy machine

    async def scenario():
        listener = await _open(project, _bearer(token))
        # Closed by the check after expiry: within the token's life plus CLOSED_WITHIN.
        code = await _closed_with(listener) or await _closed_with(listener)
        await listener.disconnect()
        return code

    assert async_to_sync(scenario)() == 4401
