"""Defects a first-time user met on the way (a walk through the whole app at 1280 and
390 px, in English and Russian), each held in place by a short check in Chromium."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from accounts.services import key_store
from files import services
from generation import reasons
from generation.models import GenerationRun
from generation.services import run_start
from generation.services.runs import run_finish
from projects.services import project_create
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def _log_in(page, language: str = "en"):
    user = UserFactory(email=f"walker-{language}@example.com", language=language)
    page.goto("/accounts/login/")
    page.locator("input[type=email]").fill(user.email)
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("nav form.inline button")).to_be_visible()
    return user


def test_a_refused_branch_name_shows_beside_its_field_on_a_phone_at_the_same_step(page):
    page.set_viewport_size(PHONE)
    user = _log_in(page)
    project = project_create(owner=user, name="Todo API")
    branch = project.branches.get()
    services.file_save(branch=branch, path="app.py", text="one")
    services.file_save(branch=branch, path="app.py", text="two")
    page.goto(f"/projects/{project.pk}/?branch=main&step=1")
    page.get_by_role("tab", name="Code and preview").click()
    page.locator("#fork-card summary").click()
    page.locator("#fork-card input[name=name]").fill("with space!")
    page.locator("#fork-card button[type=submit]").click()

    field = page.locator("#fork-card .field.invalid")
    expect(field).to_be_in_viewport()  # the code half chosen, the form open, in view
    expect(field.locator(".error")).to_contain_text("letters")
    expect(page.locator("#files-card h2")).to_have_text("Files at step 1")


def test_a_card_label_on_a_phone_keeps_its_words_whole(page):
    page.set_viewport_size(PHONE)
    _log_in(page, "ru")
    page.goto("/accounts/settings/")
    page.locator("#id_api_key").fill("sk-walker-key-0000000000001234")
    page.locator("#id_api_key").press("Enter")
    stored = page.locator("#keys td[data-label='Сохранён']")
    expect(stored).to_be_visible()
    # "Сохранён" beside a long date: the label (::before) may shrink to its longest word,
    # never below it (it read "Сохранё" over "н").
    widths = stored.evaluate(
        """td => { const probe = document.createElement('b');
        probe.style.cssText = 'position:absolute;white-space:nowrap';
        probe.textContent = td.dataset.label; document.body.appendChild(probe);
        const word = probe.getBoundingClientRect().width; probe.remove();
        return {word, label: parseFloat(getComputedStyle(td, '::before').width)}; }"""
    )
    assert widths["label"] >= widths["word"] - 0.5, widths


def test_a_running_run_shows_no_empty_box_while_no_agent_speaks(page):
    user = _log_in(page)
    project = project_create(owner=user, name="Todo API", description="a small todo API")
    key_store(user=user, provider="openai", api_key="sk-walker-key-0000000000001234")
    run = run_start(project=project, user=user, provider="openai")
    GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRun.Status.RUNNING)
    page.goto(f"/projects/{project.pk}/")
    live = page.locator("#agent-live")
    expect(live).to_contain_text("SpecWriter")
    # A command or an install at work names no agent: the line is empty, and so was the
    # grey box under the conversation.
    page.evaluate("document.getElementById('activity').textContent = ''")
    expect(live).to_be_hidden()
    page.evaluate("document.getElementById('activity').textContent = 'The Architect…'")
    expect(live).to_be_visible()


DESKTOP = {"width": 1280, "height": 800}
LONG_DESCRIPTION = " ".join(
    ["A todo API: lists, items, due dates and reminders, shared lists."] * 25
)


@pytest.mark.parametrize(
    ("language", "size"), [("en", DESKTOP), ("ru", DESKTOP), ("en", PHONE), ("ru", PHONE)]
)
def test_after_stop_resume_and_start_again_are_in_view_without_scrolling(page, language, size):
    page.set_viewport_size(size)
    user = _log_in(page, language)
    project = project_create(owner=user, name="Todo API", description=LONG_DESCRIPTION)
    key_store(user=user, provider="openai", api_key="sk-walker-key-0000000000001234")
    run_start(project=project, user=user, provider="openai")  # queued: no worker here
    page.goto(f"/projects/{project.pk}/")
    page.locator("#run-stop").click()

    expect(page.locator("#run-cancelled")).to_be_visible()
    # Whole, not cut by the foot of their box (the start form sat under the fold of the
    # controls' scrolling box at 1280x800, and under the conversation on a phone).
    expect(page.locator("#run-resume")).to_be_in_viewport(ratio=1)
    expect(page.locator("#run-start")).to_be_in_viewport(ratio=1)
    expect(page.locator("#id_model")).to_be_in_viewport(ratio=1)


def _stopped(user, status: str) -> str:
    """A project whose run stopped (cancelled, or failed in the sandbox) before this page."""
    project = project_create(owner=user, name="Todo API", description=LONG_DESCRIPTION)
    key_store(user=user, provider="openai", api_key="sk-walker-key-0000000000001234")
    run = run_start(project=project, user=user, provider="openai")  # queued: no worker here
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().get(pk=run.pk)
        if status == GenerationRun.Status.CANCELLED:
            run_finish(run=run, status=status, code=reasons.CANCELLED)
        else:
            run_finish(run=run, status=status, code=reasons.SANDBOX, params={"detail": "gone"})
    return f"/projects/{project.pk}/"


@pytest.mark.parametrize("status", ["cancelled", "failed"])
@pytest.mark.parametrize(
    ("language", "size"), [("en", DESKTOP), ("ru", DESKTOP), ("en", PHONE), ("ru", PHONE)]
)
def test_a_stopped_run_opened_afresh_shows_resume_and_start_again(page, language, size, status):
    page.set_viewport_size(size)
    page.goto(_stopped(_log_in(page, language), status))

    notice = "#run-cancelled" if status == "cancelled" else "#run-reason"
    expect(page.locator(notice)).to_be_in_viewport()
    expect(page.locator("#run-resume")).to_be_in_viewport(ratio=1)
    expect(page.locator("#run-start")).to_be_in_viewport(ratio=1)
    expect(page.locator("#id_model")).to_be_in_viewport(ratio=1)


def test_a_stopped_run_opened_afresh_leaves_a_users_own_scroll_alone(page):
    page.set_viewport_size(PHONE)
    path = _stopped(_log_in(page), "cancelled")
    held = []  # the panel waits until the user has scrolled
    page.route(re.compile(r"/generation/\?"), lambda route: held.append(route))
    page.goto(path)
    page.wait_for_function("document.readyState === 'complete'")
    page.mouse.move(200, 400)
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(200)
    before = page.evaluate("window.scrollY")
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    expect(page.locator("#run-cancelled")).to_be_attached()
    page.wait_for_timeout(300)  # what a scroll into view would have done, done
    assert page.evaluate("window.scrollY") == before
    expect(page.locator("#run-start")).not_to_be_in_viewport()
