import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory

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
