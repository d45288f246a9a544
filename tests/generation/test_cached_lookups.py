"""The worker caches the user's key for a few seconds; a revoke still stops the next run."""

import pytest

from accounts.services import key_revoke
from generation import reasons
from generation.services import run_start
from tests.generation.scenario import drive_here, project_for, reference

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_keys_only(pipeline_settings):
    pipeline_settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}
    return pipeline_settings


def test_revoked_key_is_not_used_by_next_run(user, own_keys_only, replay):
    replay.load_dict(reference())
    project = project_for(user)
    first = drive_here(run_start(project=project, user=user, provider="openai"))
    assert first.status == "completed"  # the worker has the key in its cache now
    sent = len(replay.requests)
    second = run_start(project=project, user=user, provider="openai", change="Add a --json flag")

    key_revoke(user=user, provider="openai")
    second = drive_here(second)

    assert second.status == "failed"
    assert second.reason_code == reasons.KEY_MISSING
    assert len(replay.requests) == sent  # nothing went out with the revoked key
