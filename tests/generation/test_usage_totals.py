"""A run's usage totals are added up as its requests are recorded (no aggregate per step):
after every step they are what the aggregate over the run's LLMRequest rows gives."""

import threading

import pytest

from generation.models import GenerationRun
from generation.pipeline.runner import Runner
from generation.services import run_answer, run_start
from generation.services.lease import run_claim
from llm.models import LLMRequest
from llm.selectors import RunUsage, SystemUsage, run_usage_both
from projects.services import project_create
from tests.generation.scenario import ANSWER, DESCRIPTION, project_for, reference, with_entry

pytestmark = pytest.mark.django_db(transaction=True)

Seen = tuple[RunUsage, SystemUsage, tuple[RunUsage, SystemUsage]]


class CheckedRunner(Runner):
    """The real runner, noting after each step what it holds and what the aggregate says."""

    seen: list[Seen]

    def _one_step(self) -> bool:
        going = super()._one_step()
        run = self.run
        held = RunUsage(prompt=run.prompt_tokens, completion=run.completion_tokens,
                        cost=run.cost, calls=run.llm_calls)  # fmt: skip
        self.seen.append((held, self.system_usage, run_usage_both(run_id=run.pk)))
        return going


def _drive(run: GenerationRun, seen: list[Seen]) -> None:
    claim = run_claim(project_id=str(run.project_id), user_id=run.user_id)
    assert claim is not None
    runner = CheckedRunner(claim, threading.Event())
    runner.seen = seen
    runner.loop()


@pytest.fixture(params=["user", "system"])
def key_source(request, pipeline_settings):
    if request.param == "system":
        pipeline_settings.LLM_SYSTEM_KEYS = {"openai": "sk-platform-000000000000",
                                             "anthropic": "", "groq": ""}  # fmt: skip
    return request.param


def test_the_run_totals_after_each_step_are_the_aggregate_of_its_requests(
    user, key_source, pipeline_settings, replay
):
    transcript = with_entry(reference(), "TechLead", {"fault": {"status": 500}})  # retried
    replay.load_dict(transcript)
    if key_source == "system":
        project = project_create(owner=user, name="Word counter", description=DESCRIPTION)
    else:
        project = project_for(user)
    run = run_start(project=project, user=user, provider="openai")
    seen: list[Seen] = []

    _drive(run, seen)
    run.refresh_from_db()
    assert run.status == "awaiting_input"
    run_answer(run=run, answer=ANSWER)
    _drive(run, seen)
    run.refresh_from_db()

    assert run.status == "completed", run.reason
    requests = LLMRequest.objects.filter(run_id=run.pk)
    assert requests.filter(status="error", agent="TechLead").count() == 1  # then retried
    written = run.events.filter(name="CodeGenerated").values_list("payload__files", flat=True)
    assert list(written) == [["test_wordcount.py", "wordcount.py"]]  # two CodeMonkeys at once
    assert requests.filter(agent="CodeMonkey").count() == 2
    assert set(requests.values_list("key_source", flat=True)) == {key_source}
    assert len(seen) == 11  # every step, and the completion
    for held, system, (usage, aggregate_system) in seen:
        assert held == usage
        assert system == aggregate_system
    assert seen[-1][0]["calls"] == 9
