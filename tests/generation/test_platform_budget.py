"""Runs on the platform's keys, driven in this process: an unknown cost is a refusal, and
the platform's cap per run holds whatever budget the project asked for."""

from decimal import Decimal

import pytest
from django.utils import translation

from generation import reasons
from generation.services import run_start
from llm.models import LLMRequest, ModelPrice
from projects.services import project_create
from tests.generation.scenario import DESCRIPTION, drive_here, event_names, reference

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform(pipeline_settings):
    pipeline_settings.LLM_SYSTEM_KEYS = {"openai": "sk-platform-000000000000", "anthropic": "",
                                         "groq": ""}  # fmt: skip
    return pipeline_settings


def test_a_system_key_call_without_a_cost_stops_the_run(user, platform, replay):
    replay.load_dict(reference())
    project = project_create(owner=user, name="Word counter", description=DESCRIPTION)
    started = run_start(project=project, user=user, provider="openai", model="gpt-4.1")
    # The price went away after the run was accepted: its calls now cost "unknown".
    ModelPrice.objects.filter(provider="openai", model="gpt-4.1").delete()

    run = drive_here(started)  # the step that asked a question is kept; the next is refused

    assert run.status == "failed", run.status
    assert run.reason_code == reasons.UNPRICED
    assert run.reason_params == {"model": "gpt-4.1"}
    assert "gpt-4.1" in run.reason
    assert len(replay.requests) == 1  # stopped before a second call
    assert LLMRequest.objects.get(run_id=run.pk).cost is None
    assert event_names(run)[-1] == "GenerationFailed"


def test_a_system_key_run_stops_at_the_platform_cap(user, platform, replay):
    platform.SAMOKODER_PLATFORM_MAX_RUN_COST = Decimal("0.001")
    replay.load_dict(reference())
    project = project_create(owner=user, name="Word counter", description=DESCRIPTION)
    project.max_run_cost = Decimal("20.00")
    project.save(update_fields=["max_run_cost"])

    run = drive_here(run_start(project=project, user=user, provider="openai"))

    assert run.status == "failed"
    assert run.reason_code == reasons.PLATFORM_BUDGET
    assert run.max_cost == Decimal("0.001")
    assert run.cost >= Decimal("0.001")
    assert run.reason_params["limit"] == "0.001"
    with translation.override("en"):
        assert "platform's keys" in run.reason and "own key" in run.reason
