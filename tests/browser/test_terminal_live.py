"""The Terminal tab shows a long command's output while it runs: real worker, bubblewrap,
the replay server, the web server's socket, Chromium watching."""

import json

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory
from tests.generation.scenario import (
    ANSWER,
    api_for,
    project_for,
    reference,
    run_start_api,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Two lines 0.1 s apart (the second lands inside the batching's 0.25 s), then 2 s of work.
COMMAND = "echo one; sleep 0.1; echo two; sleep 2; echo three"
WATCH = """() => {
    window.seen = {twoFirst: null, live: ""};
    new MutationObserver(() => {
        const text = document.getElementById("terminal")?.textContent || "";
        // Lines of output, not the command's own words in its "$ ..." line.
        if (window.seen.twoFirst === null && text.includes("\\ntwo\\n")) {
            window.seen.twoFirst = !text.includes("\\nthree\\n");
        }
        if (!window.seen.live && text.includes("\\nthree\\n")) { window.seen.live = text; }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _transcript(command: str = COMMAND) -> dict:
    transcript = reference()
    developer = next(e for e in transcript["responses"] if e["agent"] == "Developer")
    plan = json.loads(developer["text"])
    plan["steps"][2]["content"] = command
    developer["text"] = json.dumps(plan)
    return transcript


def _watching(page, asgi_server, email: str):
    """A user with a project, its page open on the Terminal tab, the terminal watched."""
    user = UserFactory(email=email, language="en")
    project = project_for(user)
    page.goto(f"{asgi_server.url}/accounts/login/")
    page.locator("input[type=email]").fill(user.email)
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(f"{asgi_server.url}/projects/{project.pk}/")
    page.locator("#tab-terminal-tab").click()
    expect(page.locator("body[data-socket=open]")).to_be_attached()
    page.evaluate(WATCH)
    return user, project


def test_the_terminal_shows_a_commands_first_lines_before_it_ends(
    page, asgi_server, worker, pipeline_settings, replay
):
    replay.load_dict(_transcript())
    user, project = _watching(page, asgi_server, "terminal@example.com")

    run_id = run_start_api(user, project)
    wait_for(run_id, "awaiting_input", worker=worker)
    api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
    page.wait_for_function("window.seen.live !== ''", timeout=60_000)

    seen = page.evaluate("window.seen")
    assert seen["twoFirst"] is True, seen  # "two" was on screen while the command slept
    live = seen["live"]
    assert live.count(f"$ {COMMAND}\n") == 1, live
    output = live.split(f"$ {COMMAND}\n", 1)[1]
    assert output == "one\ntwo\nthree\n", live  # in order, nothing lost or doubled


def test_a_page_opened_while_a_command_runs_shows_its_output_so_far_then_the_rest(
    page, asgi_server, worker, pipeline_settings, replay
):
    command = COMMAND.replace("sleep 2", "sleep 5")  # time to open another page meanwhile
    replay.load_dict(_transcript(command))
    user, project = _watching(page, asgi_server, "midway@example.com")
    run_id = run_start_api(user, project)
    wait_for(run_id, "awaiting_input", worker=worker)
    api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
    page.wait_for_function("window.seen.twoFirst !== null", timeout=60_000)

    late = page.context.new_page()  # the same user, a second tab, opened in the sleep
    late.goto(f"{asgi_server.url}/projects/{project.pk}/")
    late.locator("#tab-terminal-tab").click()
    expect(late.locator("#terminal")).to_contain_text(f"$ {command}\none\ntwo\n")
    expect(late.locator("#terminal [data-unfinished]").first).to_have_text("one\ntwo\n")
    expect(late.locator("body[data-socket=open]")).to_be_attached()
    late.evaluate(WATCH)
    late.wait_for_function("window.seen.live !== ''", timeout=60_000)

    live = late.evaluate("window.seen.live")
    assert live.count(f"$ {command}\n") == 1, live
    assert live.split(f"$ {command}\n", 1)[1] == "one\ntwo\nthree\n", live  # none doubled


STEADY = "for i in $(seq 1 120); do echo line $i; sleep 0.02; done"
SECTION_WATCH = """() => {
    window.seen = {text: null};
    new MutationObserver(() => {
        const section = document.querySelector("#terminal [data-unfinished]");
        if (window.seen.text === null && section?.textContent.includes("line 120\\n")) {
            window.seen.text = section.textContent;
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_a_page_opened_while_a_command_prints_steadily_misses_and_doubles_nothing(
    page, asgi_server, worker, pipeline_settings, replay
):
    # Lines keep coming while the second page loads, reads the output so far and joins
    # the socket: what was sent in between reaches it through the panel fetched again.
    replay.load_dict(_transcript(STEADY))
    user, project = _watching(page, asgi_server, "steady@example.com")
    run_id = run_start_api(user, project)
    wait_for(run_id, "awaiting_input", worker=worker)
    api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": ANSWER})
    page.wait_for_function(
        "document.getElementById('terminal').textContent.includes('line 10\\n')",
        timeout=60_000,
    )

    late = page.context.new_page()
    late.add_init_script(f"document.addEventListener('DOMContentLoaded', {SECTION_WATCH})")
    late.goto(f"{asgi_server.url}/projects/{project.pk}/")
    late.locator("#tab-terminal-tab").click()
    late.wait_for_function("window.seen && window.seen.text !== null", timeout=60_000)

    shown = late.evaluate("window.seen.text")
    assert shown == "".join(f"line {n}\n" for n in range(1, 121)), shown
