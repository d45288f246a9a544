"""The reference scenario: a standard-library word counter whose first test run fails and
whose BugHunter fix makes it pass, replayed from ``transcripts/reference.json``."""

import copy
import json
import time
from pathlib import Path

from accounts.services import key_store
from generation.models import GenerationRun
from generation.pipeline.runner import run_drive
from generation.services import run_answer
from projects.services import project_create

TRANSCRIPT = Path(__file__).parent / "transcripts" / "reference.json"
DESCRIPTION = (
    "A command-line word counter: `python3 wordcount.py FILE` prints the number of lines, "
    "words and characters. Standard library only, with unittest tests."
)
ANSWER = "No, a file path is required."
USER_KEY = "sk-user-reference-0000000000000000"


def reference() -> dict:
    return json.loads(TRANSCRIPT.read_text(encoding="utf-8"))


def answer_of(transcript: dict, agent: str, index: int = 0) -> dict:
    entries = [entry for entry in transcript["responses"] if entry.get("agent") == agent]
    return json.loads(entries[index]["text"])


def expected_files(transcript: dict) -> dict[str, str]:
    """What the project must hold at the end: the tests as written, the module as fixed."""
    tests = answer_of(transcript, "CodeMonkey", 1)
    fix = answer_of(transcript, "BugHunter")["files"][0]
    return {tests["path"]: tests["content"], fix["path"]: fix["content"]}


def with_entry(transcript: dict, agent: str, entry: dict, *, before: bool = True) -> dict:
    """A copy with ``entry`` added just before (or after) ``agent``'s first answer."""
    changed = copy.deepcopy(transcript)
    responses = changed["responses"]
    index = next(i for i, e in enumerate(responses) if e.get("agent") == agent)
    responses.insert(index if before else index + 1, {"agent": agent, **entry})
    return changed


def project_for(user, *, description: str = DESCRIPTION):
    key_store(user=user, provider="openai", api_key=USER_KEY)
    return project_create(owner=user, name="Word counter", description=description)


def wait_for(run_id, *statuses: str, timeout: float = 90, worker=None) -> GenerationRun:
    """Poll the database until the run reaches one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = GenerationRun.objects.get(pk=run_id)
        if run.status in statuses:
            return run
        time.sleep(0.1)
    log = worker.log()[-4000:] if worker else ""
    raise AssertionError(f"run {run_id} is {run.status} ({run.reason}), not {statuses}\n{log}")


def api_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def run_start_api(user, project, **body) -> str:
    response = api_for(user).post(f"/api/v1/projects/{project.pk}/runs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def run_to_end(user, project, worker, *, answer: str = ANSWER, **body) -> GenerationRun:
    """Start a run, answer its question if it asks one, and wait until it stops."""
    run_id = run_start_api(user, project, **body)
    run = wait_for(run_id, "awaiting_input", "completed", "failed", "cancelled", worker=worker)
    if run.status == "awaiting_input":
        response = api_for(user).post(f"/api/v1/runs/{run_id}/answer", {"answer": answer})
        assert response.status_code == 200, response.content
        run = wait_for(run_id, "completed", "failed", "cancelled", worker=worker)
    return run


def drive_here(run: GenerationRun) -> GenerationRun:
    """Drive a started run to its end in this process (what the Celery task calls),
    answering its question when it asks one."""
    project_id, user_id = str(run.project_id), run.user_id
    run_drive(project_id=project_id, user_id=user_id)
    run.refresh_from_db()
    if run.status == "awaiting_input":
        run_answer(run=run, answer=ANSWER)
        run_drive(project_id=project_id, user_id=user_id)
        run.refresh_from_db()
    return run


def event_names(run: GenerationRun) -> list[str]:
    return list(run.events.order_by("seq").values_list("name", flat=True))
