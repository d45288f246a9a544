"""Switching to Russian leaves no English on the pages, checked against the catalogue."""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

CATALOGUE = Path(__file__).resolve().parents[2] / "locale/ru/LC_MESSAGES/django.po"
EMAIL = "ivan@example.com"
PASSWORD = "длинный пароль ивана"
# Names that stay as they are in Russian text: the brand, providers, the language
# switcher's own "English", and what the user typed.
# Model names, the currency, the default branch, a path example and the archive format
# are names too.
KEPT_AS_IS = ["Samokoder", "OpenAI", "Anthropic", "Groq", "English", "E-mail", "API", "LLM",
              "USD", "main", "src/app.py", "zip", EMAIL,
              *settings.LLM_DEFAULT_MODELS.values()]  # fmt: skip


def _english_msgids() -> list[str]:
    """English source strings whose Russian differs, placeholders cut out."""
    english = []
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete or entry.msgstr == entry.msgid:
            continue
        for text in filter(None, [entry.msgid, entry.msgid_plural]):
            english += [p.strip() for p in re.split(r"%\(\w+\)\w|\{\{.*?\}\}", text)]
    return sorted({t for t in english if re.search(r"[A-Za-z]{2}", t) and t not in KEPT_AS_IS})


def _assert_no_english(page) -> None:
    text = page.locator("body").inner_text()
    leftovers = [m for m in _english_msgids() if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", text)]
    assert leftovers == [], f"untranslated on {page.url}: {leftovers}"
    # Model names in the pick lists are identifiers (gpt-4.1-mini), not prose.
    options = [o.strip() for o in page.locator("option").all_text_contents()]
    for kept in sorted([*options, *KEPT_AS_IS], key=len, reverse=True):  # longest first
        text = text.replace(kept, "")
    assert re.findall(r"[A-Za-z]{2,}", text) == [], f"Latin words left on {page.url}"


def test_switching_to_russian_translates_register_keys_and_dashboard(page, screenshot):
    page.goto("/accounts/register/")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Language").select_option("ru")
    page.get_by_role("button", name="Switch").click()

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_role("heading", name="Создать учётную запись")).to_be_visible()
    _assert_no_english(page)
    screenshot("register-ru")

    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Пароль", exact=True).fill("short")
    page.get_by_label("Пароль ещё раз").fill("short")
    page.get_by_role("button", name="Регистрация").click()
    expect(page.locator(".field.invalid").first).to_be_visible()
    _assert_no_english(page)  # Django's own validation messages come in Russian too
    screenshot("register-errors-ru")

    page.get_by_label("Пароль", exact=True).fill(PASSWORD)
    page.get_by_label("Пароль ещё раз").fill(PASSWORD)
    page.get_by_role("button", name="Регистрация").click()
    expect(page.get_by_role("heading", name=f"Здравствуйте, {EMAIL}")).to_be_visible()
    _assert_no_english(page)
    screenshot("dashboard-ru")

    page.get_by_role("link", name="Настройки").click()
    page.get_by_label("Провайдер").select_option("openai")
    page.get_by_label("API-ключ").fill("sk-russian-user-key-0042")
    page.get_by_role("button", name="Сохранить ключ").click()
    expect(page.locator("#keys tr[data-provider=openai]")).to_contain_text("••••0042")
    _assert_no_english(page)
    screenshot("keys-ru")

    page.get_by_role("link", name="Главная").click()
    expect(page.get_by_text("Ваши ключи готовы к генерации:")).to_be_visible()
    _assert_no_english(page)
    assert User.objects.get(email=EMAIL).language == "ru"

    # The project page with its generation panel (loaded by htmx) is Russian too.
    page.locator("#id_name").fill("Счётчик слов")
    page.locator("#id_description").fill("Консольный счётчик слов и тесты для него.")
    page.locator("form[action$='/projects/new/'] button[type=submit]").click()
    expect(page.locator("#run-start")).to_be_visible()
    _assert_no_english(page)
    screenshot("project-ru")
