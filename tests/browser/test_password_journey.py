import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.test_russian import _assert_no_english

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

NEW_PASSWORD = "a browser chosen passphrase"


def _log_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_forgotten_password_is_reset_by_the_emailed_link(page, screenshot):
    user = UserFactory(email="forgetful@example.com")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    screenshot("link-sent")

    (message,) = mail.outbox
    link = re.search(r"https?://\S+/password/reset/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".field.invalid")).to_contain_text("too short")
    screenshot("too-short")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    screenshot("password-set")

    page.get_by_role("main").get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=f"Hello, {user.email}")).to_be_visible()

    page.goto(link)  # a link works once
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()


def test_password_is_changed_from_the_settings_page(page, screenshot):
    user = UserFactory(email="changer@example.com")
    _log_in(page, user.email, PASSWORD)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Change password").click()

    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".field.invalid")).to_contain_text("The current password is wrong.")
    screenshot("wrong-current")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed.")
    screenshot("changed")

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_pages_and_email_in_russian_leave_no_english(page, live_server, screenshot):
    user = UserFactory(email="ivan.r@example.com", language="ru")
    page.context.add_cookies([{"name": "django_language", "value": "ru", "url": live_server.url}])
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Забыли пароль?").click()
    _assert_no_english(page)
    page.get_by_label("E-mail").fill("not an address")
    page.get_by_role("button", name="Отправить ссылку").click()
    expect(page.locator(".field.invalid")).to_be_visible()
    _assert_no_english(page)
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_role("button", name="Отправить ссылку").click()
    expect(page.get_by_role("heading", name="Проверьте почту")).to_be_visible()
    _assert_no_english(page)

    (message,) = mail.outbox
    link = re.search(r"https?://\S+/password/reset/\S+/", message.body).group(0)
    body = message.subject + message.body.replace(link, "")
    assert re.findall(r"[A-Za-z]{2,}", body.replace("Samokoder", "").replace(user.email, "")) == []
    page.goto(link)
    page.get_by_label("Новый пароль", exact=True).fill("12345678")
    page.get_by_label("Новый пароль ещё раз").fill("12345678")
    page.get_by_role("button", name="Задать пароль").click()
    expect(page.locator(".field.invalid")).to_be_visible()
    _assert_no_english(page)
    screenshot("reset-errors-ru")
    page.get_by_label("Новый пароль", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Новый пароль ещё раз").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Задать пароль").click()
    expect(page.get_by_role("heading", name="Пароль задан")).to_be_visible()
    _assert_no_english(page)
    page.goto(link)
    expect(page.get_by_role("heading", name="Ссылка не работает")).to_be_visible()
    _assert_no_english(page)

    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Пароль").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_role("link", name="Настройки").click()
    page.get_by_role("link", name="Сменить пароль").click()
    page.get_by_label("Текущий пароль").fill("не тот пароль")
    page.get_by_label("Новый пароль", exact=True).fill("short")
    page.get_by_label("Новый пароль ещё раз").fill("other")
    page.get_by_role("button", name="Сменить пароль").click()
    expect(page.locator(".field.invalid").first).to_be_visible()
    _assert_no_english(page)
    screenshot("change-errors-ru")
