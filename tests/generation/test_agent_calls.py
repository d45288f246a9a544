"""The run's agent calls on the worker's long-lived loop (core.loop): a stop still cancels
the call in flight at once, and the kept SDK client serves the next call after it.

In-process, as a worker's step makes the calls, with the real SDK client against the
replay server and the gateway's records written on this test's connection."""

import json
import threading
import time

import pytest

from accounts.services import key_store
from generation.agents import SpecWriter
from generation.pipeline.agent_calls import AgentCalls
from generation.pipeline.work import Cancelled
from generation.services import run_start
from llm.models import LLMRequest
from projects.services import project_create

pytestmark = pytest.mark.django_db

SPEC = {"questions": [], "specification": {"summary": "Counts words.", "requirements": ["Count."]}}
VALUES = {"description": "A word counter.", "answers": [], "language": "en",
          "language_name": "English", "may_ask": False}  # fmt: skip


@pytest.fixture
def run(replay, settings, user):
    settings.LLM_BASE_URLS = {"openai": f"{replay.url}/v1", "anthropic": replay.url,
                              "groq": replay.url}  # fmt: skip
    key_store(user=user, provider="openai", api_key="sk-agent-calls-000000000001")
    project = project_create(owner=user, name="Stop", description=VALUES["description"])
    return run_start(project=project, user=user, provider="openai")


def test_a_stop_cancels_the_call_in_flight_and_the_kept_client_serves_the_next(replay, run):
    replay.load_dict({"version": 1, "responses": [
        {"agent": "SpecWriter", "text": json.dumps(SPEC), "fault": {"delay": 10}},
        {"agent": "SpecWriter", "text": json.dumps(SPEC)},
    ]})  # fmt: skip
    cancel = threading.Event()

    def stop_once_sent() -> None:  # in flight: the replay server has the request
        deadline = time.monotonic() + 10
        while not replay.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        cancel.set()

    threading.Thread(target=stop_once_sent, daemon=True).start()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        AgentCalls(run, cancel).answer(SpecWriter(), **VALUES)
    stopped_after = time.monotonic() - started
    answer = AgentCalls(run).answer(SpecWriter(), **VALUES)

    assert stopped_after < 3  # not the 10 s the answer would have taken
    assert answer.specification.summary == "Counts words."
    statuses = list(LLMRequest.objects.filter(run_id=run.pk).order_by("created_at")
                    .values_list("error_type", "status"))  # fmt: skip
    assert statuses == [("cancelled", "error"), ("", "success")]
    assert len(replay.requests) == 2  # the cancelled one was not sent again
