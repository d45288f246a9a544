import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, ProviderKey, User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("accounts:login"), {"email": email, "password": password})


def test_register_page_creates_account_and_signs_in(client):
    response = client.post(
        reverse("accounts:register"),
        {"email": "page@example.com", "password": PASSWORD, "password_again": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("projects:dashboard")
    assert client.get(reverse("projects:dashboard")).status_code == 200
    assert User.objects.filter(email="page@example.com").exists()


def test_register_page_shows_field_errors_and_keeps_the_email(client, user):
    response = client.post(
        reverse("accounts:register"),
        {"email": user.email, "password": "short", "password_again": "short"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"password"}
    assert form["email"].value() == user.email


def test_register_page_refuses_a_taken_email(client, user):
    response = client.post(
        reverse("accounts:register"),
        {"email": user.email.upper(), "password": PASSWORD, "password_again": PASSWORD},
    )

    assert set(response.context["form"].errors) == {"email"}
    assert User.objects.count() == 1


def test_login_wrong_password_shows_one_error_for_both_fields(client, user):
    response = _login(client, user.email, "wrong password")

    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == ["__all__"]
    assert "_auth_user_id" not in client.session


def test_login_then_logout(client, user):
    assert _login(client, user.email).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert AccountEvent.objects.filter(user=user, name="UserAuthenticated").exists()

    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session


def test_login_redirect_never_leaves_the_site(client, user):
    response = client.post(
        reverse("accounts:login") + "?next=https://evil.example/",
        {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("projects:dashboard")


def test_sixth_login_attempt_in_a_minute_gets_a_429_page(client, user, fresh_rate_window):
    def six():
        client.logout()  # a rerun starts signed out, as the first burst did
        statuses = [_login(client, user.email, "guess").status_code for _ in range(5)]
        return statuses, _login(client, user.email)

    statuses, sixth = fresh_rate_window.burst(six, "auth.login")
    assert statuses == [400] * 5
    assert sixth.status_code == 429
    assert 1 <= int(sixth["Retry-After"]) <= 60
    assert "text/html" in sixth["Content-Type"]
    assert "_auth_user_id" not in client.session


def test_showing_the_login_form_is_not_counted(client, user):
    for _ in range(8):
        assert client.get(reverse("accounts:login")).status_code == 200
    assert _login(client, user.email).status_code == 302


def test_pages_enforce_csrf(user):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, user.email).status_code == 403


def test_pages_need_login(client):
    # The site root shows the landing page when signed out (tests/test_pages.py).
    for name in ("llm:usage", "accounts:settings"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_settings_page_stores_shows_last4_and_revokes(client, user):
    client.force_login(user)
    secret = "sk-ant-api03-VERYSECRET-abcd1234"

    client.post(reverse("accounts:settings"), {"provider": "anthropic", "api_key": secret})
    page = client.get(reverse("accounts:settings")).content.decode()

    assert "1234" in page
    assert secret not in page and "VERYSECRET" not in page
    client.post(reverse("accounts:key-revoke", args=["anthropic"]))
    assert not ProviderKey.objects.filter(user=user).exists()


def test_settings_page_bad_key_is_a_form_error_and_saves_nothing(client, user):
    client.force_login(user)
    services.key_store(user=user, provider="groq", api_key="gsk_kept_key_5555")

    response = client.post(reverse("accounts:settings"), {"provider": "groq", "api_key": "a b"})

    assert response.status_code == 400
    assert "api_key" in response.context["form"].errors
    assert ProviderKey.objects.get(user=user).last4 == "5555"


def test_revoking_another_users_key_is_impossible(client, user, other_user):
    services.key_store(user=other_user, provider="openai", api_key="sk-other-user-key-8888")
    client.force_login(user)

    client.post(reverse("accounts:key-revoke", args=["openai"]))

    assert ProviderKey.objects.filter(user=other_user).exists()


def test_language_switch_is_saved_on_the_user_and_used_in_a_new_browser(client, user):
    client.force_login(user)
    client.post(reverse("accounts:language"), {"language": "en", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"

    fresh = Client()
    fresh.force_login(user)
    page = fresh.get(reverse("projects:dashboard"), HTTP_ACCEPT_LANGUAGE="ru")
    assert page.context["LANGUAGE_CODE"] == "en"


def test_a_language_chosen_just_before_logging_in_wins_and_is_saved_on_the_account(client):
    user = UserFactory(language="en")
    client.post(reverse("accounts:language"), {"language": "ru", "next": "/accounts/login/"})

    response = _login(client, user.email)

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    user.refresh_from_db()
    assert user.language == "ru"
    page = client.get(reverse("projects:dashboard"))
    assert page.context["LANGUAGE_CODE"] == "ru"
    fresh = Client()  # another browser, no choice in it: the account's language, now ru
    _login(fresh, user.email)
    assert fresh.get(reverse("projects:dashboard")).context["LANGUAGE_CODE"] == "ru"


def test_without_a_choice_in_this_visit_logging_in_uses_the_accounts_language(client):
    user = UserFactory(language="ru")
    # A cookie left in this browser by someone else's sign-in is not a choice of this visit.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = _login(client, user.email)

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert client.get(reverse("projects:dashboard")).context["LANGUAGE_CODE"] == "ru"
    user.refresh_from_db()
    assert user.language == "ru"


def test_a_choice_is_forgotten_on_log_out_so_the_next_account_keeps_its_own(client):
    first, second = UserFactory(language="en"), UserFactory(language="ru")
    client.post(reverse("accounts:language"), {"language": "en", "next": "/"})
    _login(client, first.email)
    client.post(reverse("accounts:logout"))

    _login(client, second.email)

    second.refresh_from_db()
    assert second.language == "ru"
    assert client.get(reverse("projects:dashboard")).context["LANGUAGE_CODE"] == "ru"


def test_language_switch_ignores_unknown_languages_and_foreign_redirects(client):
    response = client.post(
        reverse("accounts:language"), {"language": "xx", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
