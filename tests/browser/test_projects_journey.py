import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def _log_in(page) -> None:
    user = UserFactory(email="maker@example.com")
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _save(page, text: str) -> None:
    page.get_by_label("Content").fill(text)
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator(".messages")).to_contain_text("saved")


def test_create_project_edit_twice_diff_and_download(page, screenshot, tmp_path):
    _log_in(page)
    page.get_by_label("Name").fill("Browser Shop")
    page.get_by_label("What should it do?").fill("Sell things")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Browser Shop")).to_be_visible()
    screenshot("project-created")

    page.get_by_label("Path").fill("src/shop.py")
    page.get_by_label("Content").fill("PRICE = 1\n")
    page.get_by_role("button", name="Save file").click()
    expect(page.locator("#code")).to_contain_text("PRICE = 1")
    _save(page, "PRICE = 2\n")
    _save(page, "PRICE = 3\nTAX = 0\n")
    expect(page.locator("#versions li")).to_have_count(3)
    screenshot("file-after-two-edits")

    page.get_by_label("Compare step").select_option("1")
    page.get_by_label("with step").select_option("3")
    page.get_by_role("button", name="Show diff").click()
    diff = page.locator("#diff")
    expect(diff).to_contain_text("-PRICE = 1")
    expect(diff).to_contain_text("+PRICE = 3")
    expect(diff).to_contain_text("+TAX = 0")
    screenshot("diff")

    page.get_by_role("link", name="Browser Shop").click()
    page.get_by_label("Step", exact=True).select_option("2")
    page.get_by_role("button", name="Show").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download step 2")).click()
    archive_path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(archive_path)
    screenshot("project-at-step-2")

    assert archive_path.name == "browser-shop-main-step2.zip"
    with zipfile.ZipFile(archive_path) as archive:
        assert archive.namelist() == ["browser-shop/src/shop.py"]
        assert archive.read("browser-shop/src/shop.py").decode() == "PRICE = 2\n"
