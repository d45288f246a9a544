"""Site-wide pages: the landing page, the API root, friendly errors, the favicon, the 429
page that keeps the login form, and text limits said by the server."""

import re

import polib
import pytest
from django.conf import settings
from django.urls import reverse

from projects.models import Project
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    """Pages in English (the site's default language is Russian)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_a_signed_out_visitor_sees_what_samokoder_is_with_register_and_log_in(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Describe an app, get working, tested code" in body
    assert reverse("accounts:register") in body and reverse("accounts:login") in body


@pytest.mark.parametrize(
    ("language", "register", "log_in"),
    [("en", "Register", "Log in"), ("ru", "Регистрация", "Войти")],
)
def test_the_landing_page_and_the_menu_name_register_and_log_in_alike(
    client, language, register, log_in
):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    for name, words in (("register", register), ("login", log_in)):
        links = re.findall(rf'<a [^>]*href="{reverse(f"accounts:{name}")}"[^>]*>([^<]*)</a>', body)
        assert len(links) == 2 and set(links) == {words}, links  # the menu's and the page's


def test_english_text_says_log_in_and_log_out_never_sign_in_sign_up_or_sign_out():
    """One pair of words for the same two actions wherever the English reader meets them."""
    catalogue = polib.pofile(str(settings.LOCALE_PATHS[0] / "en/LC_MESSAGES/django.po"))
    texts = [entry.msgid for entry in catalogue if not entry.obsolete]
    mixed = [
        text for text in texts if re.search(r"\bsign(?:ed|ing)?[ -]?(?:in|up|out)\b", text, re.I)
    ]
    assert mixed == []


def test_a_signed_in_user_gets_the_dashboard_at_the_root(client, user):
    client.force_login(user)
    assert "projects/dashboard.html" in [t.name for t in client.get("/").templates]


def test_the_api_root_lists_the_endpoints(client):
    response = client.get("/api/v1/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["projects"].endswith("/api/v1/projects")
    assert response.json()["docs"].endswith("/api/docs/")


@pytest.mark.parametrize("debug", [True, False])
def test_a_missing_page_is_the_sites_own_404_and_the_api_keeps_json(client, settings, debug):
    settings.DEBUG = debug
    page = client.get("/no/such/page/", HTTP_ACCEPT="text/html")
    assert page.status_code == 404
    body = page.content.decode()
    assert "Page not found" in body and "URLconf" not in body and "urlpatterns" not in body
    api = client.get("/api/v1/no-such-thing", HTTP_ACCEPT="application/json")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200


def test_the_429_page_keeps_the_login_form_with_the_wait(client, user, fresh_rate_window):
    def six():
        client.logout()
        for _ in range(5):
            client.post(reverse("accounts:login"), {"email": user.email, "password": "guess"})
        return client.post(reverse("accounts:login"), {"email": user.email, "password": PASSWORD})

    response = fresh_rate_window.burst(six, "auth.login")
    assert response.status_code == 429
    body = response.content.decode()
    assert 'id="login-again"' in body and f'value="{user.email}"' in body
    assert "Please wait" in body and f'data-wait="{response["Retry-After"]}"' in body


def test_a_description_over_the_limit_is_refused_with_the_limit_not_cut(client, user):
    client.force_login(user)
    form = client.get("/").content.decode()
    assert 'data-limit="20000"' in form and 'maxlength="20000"' not in form
    response = client.post(
        reverse("projects:create"), {"name": "Long", "description": "x" * 20_001}
    )
    assert response.status_code == 400
    assert "at most 20000 characters (it has 20001)" in response.content.decode()  # Django's
    assert not Project.objects.exists()


def test_admin_shows_money_to_four_decimals(admin_client, admin_user):
    from decimal import Decimal

    from llm.models import LLMRequest

    LLMRequest.objects.create(
        user=admin_user, agent="SpecWriter", provider="openai", model="gpt-4.1",
        key_source="user", status="success", cost=Decimal("0.058814"),
    )  # fmt: skip
    body = admin_client.get(reverse("admin:llm_llmrequest_changelist")).content.decode()
    assert "0.0588" in body and "0.058814" not in body


def test_usage_charts_have_dated_axes_with_units(client, user):
    from decimal import Decimal

    from django.utils import timezone

    from llm.models import TokenUsage

    TokenUsage.objects.create(
        user=user, day=timezone.localdate(), provider="openai", model="gpt-4.1",
        requests=1, prompt_tokens=100, completion_tokens=20, cost=Decimal("0.058814"),
    )  # fmt: skip
    client.force_login(user)
    body = client.get(reverse("llm:usage")).content.decode()
    assert "0.0588 USD" in body and "120 tokens" in body and "max per day" not in body
    assert timezone.localdate().strftime("%-d") in body.split('class="x-axis"')[1][:200]


def test_a_server_error_is_the_sites_own_page_in_debug_for_a_browser(rf, settings):
    from django.http import HttpResponseServerError

    from samokoder_site.pages import FriendlyErrorsMiddleware

    settings.DEBUG = True
    technical = HttpResponseServerError("<h1>Traceback</h1>", content_type="text/html")
    middleware = FriendlyErrorsMiddleware(lambda request: technical)
    page = middleware(rf.get("/projects/", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="en"))
    assert page.status_code == 500 and b"Something went wrong" in page.content
    assert b"Traceback" not in page.content
    api = middleware(rf.get("/api/v1/projects", HTTP_ACCEPT="application/json"))
    assert api is technical  # programs get what the API gives


def test_settings_offer_models_as_a_choice_with_the_default_marked(client, user, settings):
    user.default_models = {"groq": "my-own-model"}
    user.save()
    client.force_login(user)
    body = client.get(reverse("accounts:settings")).content.decode()
    assert '<select name="openai_model"' in body and '<select name="groq_model"' in body
    assert f"{settings.LLM_DEFAULT_MODELS['openai']} (default)</option>" in body
    assert '<option value="my-own-model" selected>' in body  # saved earlier, still there


def test_a_missing_file_in_debug_is_the_sites_404_without_the_url_list(client, user, settings):
    from projects.services import project_create

    settings.DEBUG = True
    project = project_create(owner=user, name="App", description="")
    client.force_login(user)
    response = client.get(f"/projects/{project.pk}/files/nope.py", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "urlpatterns" not in body and "URLconf" not in body
