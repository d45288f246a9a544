"""Changing and resetting a password: pages, e-mail, and what a change signs out."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AccountEvent
from tests.accounts.factories import PASSWORD
from tests.test_settings import _python

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase"


def _signed_in(user) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _token(user, password: str = PASSWORD) -> str:
    response = APIClient().post(
        reverse("api-token"), {"email": user.email, "password": password}, format="json"
    )
    assert response.status_code == 200
    return response.json()["access"]


def _me(token: str):
    return APIClient().get(reverse("api-me"), HTTP_AUTHORIZATION=f"Bearer {token}")


def _change(client: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, again: str = ""):
    data = {"old_password": old, "new_password1": new, "new_password2": again or new}
    return client.post(reverse("accounts:password-change"), data, HTTP_ACCEPT_LANGUAGE="en")


def _reset_link(message) -> str:
    found = re.search(r"https?://[^/\s]+(/\S+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


# --- Change ---------------------------------------------------------------------------


def test_settings_page_links_to_the_password_change_page(user):
    page = _signed_in(user).get(reverse("accounts:settings")).content.decode()
    assert f'href="{reverse("accounts:password-change")}"' in page


def test_password_change_page_needs_login(client):
    response = client.get(reverse("accounts:password-change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_password_change_keeps_this_session_and_signs_out_the_others(user):
    this, other = _signed_in(user), _signed_in(user)

    response = _change(this)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:settings")
    assert this.get(reverse("accounts:settings")).status_code == 200
    assert other.get(reverse("accounts:settings")).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AccountEvent.objects.filter(user=user, name="PasswordChanged").count() == 1


def test_password_change_signs_out_tokens_issued_before(user):
    before = _token(user)
    assert _me(before).status_code == 200

    _change(_signed_in(user))

    refused = _me(before)
    assert refused.status_code == 401
    assert refused.json()["code"] == "password_changed"
    assert _me(_token(user, NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("old", "new", "again", "field"),
    [
        ("not the password", NEW_PASSWORD, NEW_PASSWORD, "old_password"),
        (PASSWORD, "short", "short", "new_password2"),  # invariant 2: at least 8 characters
        (PASSWORD, NEW_PASSWORD, "something else entirely", "new_password2"),
    ],
)
def test_a_refused_password_change_shows_the_error_and_changes_nothing(
    user, old, new, again, field
):
    client = _signed_in(user)

    response = _change(client, old, new, again)

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {field}
    assert 'role="alert"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_page_in_russian(user):
    client = _signed_in(user)
    page = client.get(reverse("accounts:password-change"), HTTP_ACCEPT_LANGUAGE="ru")
    body = page.content.decode()
    assert "Смена пароля" in body
    errors = client.post(
        reverse("accounts:password-change"),
        {"old_password": "wrong", "new_password1": "short", "new_password2": "short"},
        HTTP_ACCEPT_LANGUAGE="ru",
    ).content.decode()
    assert "Текущий пароль введён неверно." in errors


# --- Reset ----------------------------------------------------------------------------


def test_login_page_links_to_the_reset_page(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert f'href="{reverse("accounts:password-reset")}"' in page


def _request_reset(client: Client, email: str, language: str = "en"):
    return client.post(
        reverse("accounts:password-reset"), {"email": email}, HTTP_ACCEPT_LANGUAGE=language
    )


def test_reset_request_answers_the_same_for_unknown_addresses(client, user):
    known = _request_reset(client, user.email.upper())
    unknown = _request_reset(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("accounts:password-reset-done")
    assert [message.to for message in mail.outbox] == [[user.email]]


def test_reset_by_email_sets_the_password_and_signs_everything_out(user):
    old_session, old_token = _signed_in(user), _token(user)
    browser = Client()
    _request_reset(browser, user.email)
    (message,) = mail.outbox
    assert "Samokoder" in message.subject

    form_page = browser.get(_reset_link(message), follow=True)
    assert form_page.status_code == 200
    done = browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert done["Location"] == reverse("accounts:password-reset-complete")
    assert browser.get(done["Location"]).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert old_session.get(reverse("accounts:settings")).status_code == 302
    assert _me(old_token).status_code == 401
    assert AccountEvent.objects.filter(user=user, name="PasswordChanged").count() == 1


def test_a_reset_link_works_once(user):
    browser = Client()
    _request_reset(browser, user.email)
    link = _reset_link(mail.outbox[0])
    form_url = browser.get(link, follow=True).redirect_chain[-1][0]
    browser.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = Client().get(link, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    assert again.status_code == 200
    assert "This link has already been used or has expired" in again.content.decode()
    assert "new_password1" not in again.content.decode()


def test_reset_form_refuses_a_short_password(user):
    browser = Client()
    _request_reset(browser, user.email)
    form_url = browser.get(_reset_link(mail.outbox[0]), follow=True).redirect_chain[-1][0]

    response = browser.post(form_url, {"new_password1": "short", "new_password2": "short"})

    assert response.status_code == 400
    assert "new_password2" in response.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_email_in_russian(client, user):
    _request_reset(client, user.email, language="ru")
    (message,) = mail.outbox
    assert "Samokoder" in message.subject and "пароля" in message.subject
    assert "Чтобы задать новый пароль" in message.body


def test_sixth_reset_request_in_a_minute_gets_a_429(client, user, fresh_rate_window):
    def six():
        statuses = [_request_reset(client, user.email).status_code for _ in range(5)]
        sent = len(mail.outbox)
        return statuses, _request_reset(client, user.email), sent

    statuses, sixth, sent = fresh_rate_window.burst(six, "auth.password_reset")
    assert statuses == [302] * 5
    assert sixth.status_code == 429
    assert len(mail.outbox) == sent  # the refused request sent nothing


def test_showing_the_reset_form_is_not_counted(client):
    for _ in range(8):
        assert client.get(reverse("accounts:password-reset")).status_code == 200


# --- E-mail settings ------------------------------------------------------------------


def test_email_goes_to_the_console_unless_email_url_is_set():
    show = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"  # noqa: E501
    embedded = _python(show, EMAIL_URL="")
    production = _python(show, EMAIL_URL="smtp+tls://mailer:secret@mail.example.com:587")

    assert embedded.stdout.split()[0] == "django.core.mail.backends.console.EmailBackend"
    assert production.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend", "mail.example.com", "587", "True"
    ]  # fmt: skip
