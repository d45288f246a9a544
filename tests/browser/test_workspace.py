"""The project page as a workspace (issue 17): the conversation across runs on the left,
files, terminal and preview on the right; tabs on a phone. Two replayed runs (the
reference generation with its question, then a change) by the real worker, then the
page in Chromium at desktop and phone sizes, in English and Russian. Screenshots go to
/tmp/shots/."""

import os
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from files.services import file_save
from llm.models import LLMRequest
from projects.selectors import branch_get
from projects.services import project_create
from tests.accounts.factories import PASSWORD, UserFactory
from tests.generation.scenario import (
    ANSWER,
    DESCRIPTION,
    expected_files,
    project_for,
    reference,
    run_to_end,
)
from tests.generation.test_control import iteration_transcript

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
SHOTS = Path(os.environ.get("SAMOKODER_SHOTS", "/tmp/shots"))  # noqa: S108 - for people to look at
CHANGE = "Add a --words flag that prints only the number of words."
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
QUESTION = "Should the counter read standard input when no file is given?"


@pytest.fixture
def two_runs(request, worker, pipeline_settings, replay):
    """A user whose project had a first run (question answered) and a change run."""
    user = UserFactory(email="workspace@example.com", language=request.param)
    transcript = reference()
    replay.load_dict(transcript)
    project = project_for(user)
    first = run_to_end(user, project, worker)
    assert first.status == "completed", first.reason
    module = expected_files(transcript)["wordcount.py"]
    flag = '    if argv[:1] == ["--words"]:\n        return 0\n    if len(argv) != 1:'
    replay.load_dict(iteration_transcript(module.replace("    if len(argv) != 1:", flag)))
    second = run_to_end(user, project, worker, change=CHANGE)
    assert second.status == "completed", second.reason
    return user, project


def _log_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.locator("#id_username, input[type=email]").first.fill(user.email)
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()


def _shot(page, name: str) -> None:
    """What the screen shows, and the whole page below it."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.screenshot(path=str(SHOTS / f"{name}-full.png"), full_page=True)


def _no_horizontal_scroll(page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{width} px wide in a {inner} px window"


def _in_view(page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => { const box = document.querySelector(selector).getBoundingClientRect();
           return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0; }""",
        selector,
    )


@pytest.mark.parametrize("two_runs", ["en", "ru"], indirect=True)
def test_workspace_shows_the_conversation_of_both_runs_on_desktop_and_phone(page, two_runs):
    user, project = two_runs
    language = user.language
    with translation.override(language):
        said = {text: gettext(text) for text in [
            "Succeeded (exit code 0)", "Terminal", "Preview", "Files", "Code and preview",
            "Conversation", "You asked for a change", "Agent", "Path",
        ]}  # fmt: skip
    page.set_viewport_size(DESKTOP)
    _log_in(page, user)
    page.goto(f"/projects/{project.pk}/")
    expect(page.locator("#run-done")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)

    # The conversation: the description, both runs, the question and the answer given.
    conversation = page.locator("#conversation")
    expect(conversation.locator(".description")).to_contain_text(DESCRIPTION[:40])
    expect(conversation.locator(".run-thread")).to_have_count(2)
    first, second = conversation.locator(".run-thread").all()
    expect(first.locator(".msg.QuestionAsked")).to_contain_text(QUESTION)
    expect(first.locator(".msg.QuestionAnswered")).to_contain_text(ANSWER)
    expect(first.locator(".msg.ErrorDetected")).to_have_count(1)
    expect(second.locator(".change-request")).to_contain_text(said["You asked for a change"])
    expect(second.locator(".change-request")).to_contain_text(CHANGE)
    # A command: its exit code in words, its output folded until asked for.
    passed = first.locator(".msg.PipelineCommandExecuted").last
    expect(passed.locator(".outcome")).to_have_text(said["Succeeded (exit code 0)"])
    output = passed.locator("details.output pre")
    expect(output).to_be_hidden()
    passed.locator("details.output summary").click()
    expect(output).to_contain_text("OK")
    expect(first.locator(".msg.CodeGenerated").first).to_contain_text("wordcount.py")
    # Readable agent output: the architecture as sentences and paths, never JSON.
    architecture = first.locator(".msg.ArchitectureDesigned")
    expect(architecture).to_contain_text("test_wordcount.py")
    assert "{" not in architecture.inner_text()

    # The whole workspace fits the window; the controls are in view without scrolling.
    height = page.evaluate("document.documentElement.scrollHeight")
    print(f"project page height at 1280x800 ({language}): {height} px")
    assert height <= DESKTOP["height"]
    assert _in_view(page, "#run-change")
    _shot(page, f"desktop-{language}")

    # Terminal: every command of the run, not only the last.
    page.get_by_role("tab", name=said["Terminal"]).click()
    terminal = page.locator("#terminal")
    expect(terminal).to_contain_text("$ python3 wordcount.py --words wordcount.py")
    expect(terminal).to_contain_text("$ python3 -m unittest")
    _shot(page, f"desktop-terminal-{language}")
    page.get_by_role("tab", name=said["Preview"], exact=True).click()
    # A command-line program: nothing to preview, and the panel says why.
    expect(page.locator("#preview-none")).to_be_visible()
    page.get_by_role("tab", name=said["Files"], exact=True).click()
    page.locator("#file-tree").get_by_role("link", name="wordcount.py", exact=True).click()
    expect(page.locator("#file-pane #code")).to_contain_text("def count")
    assert page.evaluate("document.documentElement.scrollHeight") <= DESKTOP["height"]
    _shot(page, f"desktop-file-{language}")

    # A phone: the halves are tabs, nothing is wider than the screen.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#run-done")).to_be_visible()
    expect(page.get_by_role("tab", name=said["Conversation"])).to_be_visible()
    _no_horizontal_scroll(page)
    page.locator("details.requests summary").click()
    card = page.locator("#llm-requests tbody tr").first
    label = card.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == f'"{said["Agent"]}"'
    _no_horizontal_scroll(page)
    _shot(page, f"phone-{language}")
    page.get_by_role("tab", name=said["Code and preview"], exact=True).click()
    expect(page.locator("#file-tree")).to_be_visible()
    expect(page.locator("#conversation")).to_be_hidden()
    _no_horizontal_scroll(page)
    _shot(page, f"phone-files-{language}")

    # A refused path: the page comes back with the error in view and its field focused.
    page.locator("#new-file summary").click()
    page.locator("#id_path").fill("../outside.py")
    page.locator("#id_content").fill("print(1)\n")
    page.locator("#new-file button[type=submit]").click()
    expect(page.locator("#new-file .field.invalid")).to_be_visible()
    expect(page.locator("#id_path")).to_be_focused()
    assert _in_view(page, "#new-file .field.invalid .error")
    _no_horizontal_scroll(page)
    _shot(page, f"phone-error-{language}")

    # The usage of both runs: charts with a value axis in units and dated days.
    page.goto("/usage/")
    expect(page.locator("#cost-chart-title")).to_have_count(1)
    expect(page.locator(".chart .y-axis").last).to_contain_text("USD")
    _no_horizontal_scroll(page)
    _shot(page, f"phone-usage-runs-{language}")
    page.set_viewport_size(DESKTOP)
    _shot(page, f"desktop-usage-runs-{language}")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_20000_character_word_wraps_and_a_longer_text_is_refused_with_its_limit(page, language):
    user = UserFactory(email="long@example.com", language=language)
    page.set_viewport_size(PHONE)
    _log_in(page, user)
    page.goto("/")
    description = page.locator("#id_description")
    description.fill("W" * 20_001)  # no maxlength: nothing is cut on the way
    counter = page.locator("#id_description-counter")
    expect(counter).to_have_class("counter help over")
    page.locator("#id_name").fill("Long word")
    page.locator("form[action$='/projects/new/'] button[type=submit]").click()
    expect(page.locator("#id_description")).to_be_focused()
    error = page.locator(".field.invalid .error")
    expect(error).to_contain_text("20")  # the limit is said, in either language
    assert _in_view(page, ".field.invalid .error")
    _shot(page, f"phone-too-long-{language}")

    description.fill("W" * 20_000)
    page.locator("form[action$='/projects/new/'] button[type=submit]").click()
    expect(page.locator(".description")).to_contain_text("WWWW")
    _no_horizontal_scroll(page)
    _shot(page, f"phone-long-word-{language}")
    page.set_viewport_size(DESKTOP)
    _no_horizontal_scroll(page)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_site_pages_at_phone_and_desktop_width(page, language):
    """The landing page, the 404 page, settings and usage: nothing wider than the screen."""
    user = UserFactory(email="pages@example.com", language=language)
    page.goto("/")
    page.locator("#language-select").select_option(language)
    page.locator(".language button").click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    for size, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        page.goto("/")
        expect(page.locator(".landing")).to_be_visible()
        _no_horizontal_scroll(page)
        _shot(page, f"{name}-landing-{language}")
        assert page.goto("/no/such/page/").status == 404
        expect(page.locator(".error-page")).to_be_visible()
        _shot(page, f"{name}-404-{language}")
    _log_in(page, user)
    for size, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        for path in ("/accounts/settings/", "/usage/", "/"):
            page.goto(path)
            _no_horizontal_scroll(page)
            _shot(page, f"{name}-{path.strip('/').replace('/', '-') or 'dashboard'}-{language}")
        header = page.locator(".topbar").bounding_box()["height"]
        assert header < size["height"] / 8, f"the header takes {header} px"


def test_a_100_character_project_name_without_spaces_wraps_wherever_it_is_listed(page):
    user = UserFactory(email="long-name@example.com", language="en")
    name = "Calculator" * 10  # the longest name a project takes, one word
    project = project_create(owner=user, name=name, description="A calculator")
    LLMRequest.objects.create(
        user=user, project=project, agent="spec", provider="openai", model="gpt-4.1",
        key_source="user", status="success", prompt_tokens=10, completion_tokens=5,
    )  # fmt: skip
    file_save(branch=branch_get(project=project, name=None), path="main.py", text="print()\n")
    _log_in(page, user)
    at = f"/projects/{project.pk}"
    pages = ("/", "/usage/", f"{at}/", f"{at}/files/main.py", f"{at}/delete/")
    for size, label in ((PHONE, "phone"), ({"width": 1366, "height": 768}, "desktop")):
        page.set_viewport_size(size)
        for path in pages:
            page.goto(path)
            expect(page.get_by_text(name).first).to_be_visible()
            _no_horizontal_scroll(page)
        page.goto("/")
        delete = page.locator("#projects .danger-link").bounding_box()
        assert delete["x"] + delete["width"] <= size["width"]  # the date and Delete stay on screen
        _shot(page, f"{label}-long-project-name")
