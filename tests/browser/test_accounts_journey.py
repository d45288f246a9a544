import re

import pytest
from playwright.sync_api import expect

from accounts.models import ProviderKey, User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a long browser password"
KEY = "sk-browser-SECRET-material-LAST"


def _register(page, email: str) -> None:
    page.goto("/accounts/register/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()


def test_register_login_store_key_see_last4_and_revoke(page, screenshot):
    _register(page, "browser@example.com")
    expect(page.get_by_role("heading", name="Hello, browser@example.com")).to_be_visible()
    screenshot("registered")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.get_by_label("E-mail").fill("browser@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("E-mail or password is wrong.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hello, browser@example.com")).to_be_visible()
    screenshot("logged-in")

    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Provider").select_option("anthropic")
    page.get_by_label("API key").fill(KEY)
    page.get_by_role("button", name="Save key").click()
    row = page.locator("#keys tr[data-provider=anthropic]")
    expect(row).to_contain_text("••••LAST")
    assert KEY not in page.content() and "SECRET" not in page.content()
    screenshot("key-stored")

    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys")).to_contain_text("No keys stored.")
    screenshot("key-revoked")
    user = User.objects.get(email="browser@example.com")
    assert not ProviderKey.objects.filter(user=user).exists()


def test_a_bad_key_shows_a_field_error_and_keeps_the_stored_one(page, screenshot):
    _register(page, "second@example.com")
    page.goto("/accounts/settings/")
    page.get_by_label("Provider").select_option("groq")
    page.get_by_label("API key").fill("gsk_first_good_key_1234")
    page.get_by_role("button", name="Save key").click()

    page.get_by_label("Provider").select_option("groq")
    page.get_by_label("API key").fill("gsk bad key with spaces")
    page.get_by_role("button", name="Save key").click()

    expect(page.locator(".field.invalid")).to_contain_text("one line without spaces")
    expect(page.locator("#keys tr[data-provider=groq]")).to_contain_text("••••1234")
    screenshot("bad-key")
