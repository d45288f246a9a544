"""The whole journey in a browser (issue 7): the web server (uvicorn) serving pages and the
socket, a Celery worker running the pipeline, the replay server answering as OpenAI,
bubblewrap running the tests. Screenshots of each stage go to test-artifacts/."""

import zipfile

import pytest
from playwright.sync_api import expect

from files.selectors import state_get, state_texts
from projects.models import Project
from tests.accounts.factories import PASSWORD, UserFactory
from tests.generation.scenario import ANSWER, DESCRIPTION, expected_files, reference

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]
EMAIL = "journey@example.com"
WAIT = 60_000  # ms: a whole run with the sandbox takes a few seconds here


@pytest.fixture
def page(browser, asgi_server, worker, pipeline_settings):
    """This module's pages come from the web server (pages and the socket), not live_server."""
    context = browser.new_context(base_url=asgi_server.url, locale="en-US", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
    # Shown by pytest only when the test failed: what the server and the worker said.
    print("--- worker ---\n" + worker.log()[-6000:])
    print("--- web server ---\n" + "".join(asgi_server.lines[-60:]))


def journey_transcript() -> dict:
    transcript = reference()
    for entry in transcript["responses"]:
        if entry["agent"] in {"Architect", "TechLead"}:
            entry["fault"] = {"delay": 1.5}  # slow enough to watch the stages move
    fix = next(e for e in transcript["responses"] if e["agent"] == "BugHunter")
    transcript["responses"].append(dict(fix))  # for the run on the branch
    return transcript


def test_register_generate_watch_answer_review_download_branch(
    page, screenshot, replay, browser, asgi_server, tmp_path
):
    transcript = journey_transcript()
    replay.load_dict(transcript)

    page.goto("/accounts/register/")
    page.get_by_label("E-mail").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.goto("/accounts/settings/")
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("API key").fill("sk-journey-key-000000000000")
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#keys")).to_contain_text("0000")
    screenshot("key-stored")

    page.get_by_role("link", name="Dashboard").click()
    page.get_by_label("Name").fill("Word counter")
    page.get_by_label("What should it do?").fill(DESCRIPTION)
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#run-start")).to_be_visible()
    screenshot("project-before-start")
    page.evaluate("window.journeyMarker = 'same page'")  # gone if the page reloads
    # Remember what the live boxes showed while the run went on (they are re-rendered).
    page.evaluate("""() => {
        window.seen = {agent: "", activity: ""};
        new MutationObserver(() => {
            const agent = document.getElementById("agent-text")?.textContent || "";
            const activity = document.getElementById("activity")?.textContent || "";
            const architect = agent.startsWith("Architect") && agent.includes("python3");
            if (architect) { window.seen.agent = agent; }
            if (activity.includes("TechLead")) { window.seen.activity = activity; }
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")

    page.locator("#run-start").click()
    expect(page.locator("#run-question")).to_contain_text("standard input", timeout=WAIT)
    screenshot("question")
    # With the keyboard only: type the answer, Tab to the button, Enter.
    page.get_by_label("Your answer").focus()
    page.keyboard.type(ANSWER)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Answer and continue")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator('.stage.current[data-stage="architecture"]')).to_be_visible(timeout=WAIT)
    screenshot("architecture-stage")
    expect(page.locator("#run-done")).to_be_visible(timeout=WAIT)
    screenshot("completed")

    assert page.evaluate("window.journeyMarker") == "same page"  # all of it live
    seen = page.evaluate("window.seen")
    assert seen["agent"].startswith("Architect") and "python3" in seen["agent"]  # streamed
    assert '"runtime"' not in seen["agent"]  # as text to read, not JSON
    assert "TechLead" in seen["activity"]
    timeline = page.locator("#timeline .event-label").all_inner_texts()
    assert (
        timeline.index("Error detected")
        < timeline.index("Fix applied")
        < timeline.index("Error fixed")
    )
    assert timeline[-1] == "Generation completed"
    expect(page.locator(".stage.done")).to_have_count(6)
    expect(page.locator("#terminal")).to_contain_text("OK")  # in the Terminal tab
    expect(page.locator("#terminal")).to_contain_text("FAILED")  # the failing run stays
    expect(page.locator("#llm-requests tbody tr")).to_have_count(8)
    expect(page.locator("#files-card")).to_contain_text("wordcount.py")

    page.locator("#file-tree").get_by_role("link", name="wordcount.py", exact=True).click()
    page.get_by_label("Compare step").select_option("8")
    page.get_by_label("with step").select_option("10")
    page.get_by_role("button", name="Show diff").click()
    expect(page.locator("#diff")).to_contain_text(
        '-    return text.count("\\n"), len(text.split(" ")), len(text)'
    )
    expect(page.locator("#diff")).to_contain_text(
        '+    return text.count("\\n"), len(text.split()), len(text)'
    )
    screenshot("diff-of-the-fix")

    page.get_by_role("link", name="Word counter").click()
    expect(page.locator("#run-done")).to_be_visible()  # the panel has loaded and settled
    expect(page.locator("#run-status")).to_have_text("Completed")
    expect(page.locator("#step-select")).to_contain_text("Wrote wordcount.py, test_wordcount.py")
    # The link's own request, with the browser's session: a click can land while the live
    # file list is being re-rendered, which loses the download event now and then.
    link = page.locator("#download")
    expect(link).to_contain_text("Download step 13")
    download = page.request.get(link.get_attribute("href"))
    assert download.ok and download.headers["content-type"] == "application/zip"
    assert "attachment" in download.headers["content-disposition"]
    archive = tmp_path / "project.zip"
    archive.write_bytes(download.body())
    with zipfile.ZipFile(archive) as zipped:
        files = {name.split("/", 1)[1]: zipped.read(name).decode() for name in zipped.namelist()}
    assert files == expected_files(transcript)

    page.get_by_label("Step", exact=True).select_option("8")
    page.get_by_role("button", name="Show").click()
    page.locator("#fork-card summary").click()  # folded under the file tree
    expect(page.locator("#fork-contents")).to_contain_text("The branch will start with 2 files.")
    page.get_by_label("New branch name").fill("retry")
    page.get_by_role("button", name="Create branch").click()
    expect(page.locator(".messages")).to_contain_text("Branch retry created.")
    page.locator("#run-start").click()
    expect(page.locator("#run-done")).to_be_visible(timeout=WAIT)
    screenshot("branch-completed")

    # Readable at phone width: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(page.locator("#run-done")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot("phone-width")

    project = Project.objects.get(name="Word counter")
    main, retry = project.branches.get(name="main"), project.branches.get(name="retry")
    assert dict(state_texts(state=state_get(branch=retry))) == expected_files(transcript)
    assert main.states.count() == 14  # untouched by the run on the branch

    stranger = UserFactory(email="stranger@example.com")
    context = browser.new_context(base_url=asgi_server.url, locale="en-US")
    other = context.new_page()
    other.goto("/accounts/login/")
    other.get_by_label("E-mail").fill(stranger.email)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Log in").click()
    response = other.goto(f"/projects/{project.pk}/")
    assert response.status == 404
    close_code = other.evaluate(
        """(url) => new Promise((done) => {
            const socket = new WebSocket(url);
            socket.onclose = (event) => done(event.code);
        })""",
        asgi_server.url.replace("http", "ws") + f"/ws/projects/{project.pk}/",
    )
    assert close_code == 4403
    context.close()
