"""The hot-path writes (core.rows): the rows they store are the ones Django would store."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import key_store
from core.rows import row_save, rows_insert, rows_update
from generation.models import GenerationRun
from generation.services import run_start
from llm.models import LLMRequest, TokenUsage
from projects.models import ProjectEvent, ProjectState
from projects.services import project_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def project(user):
    return project_create(owner=user, name="Rows", description="A word counter.")


@pytest.fixture
def run(user, project):
    key_store(user=user, provider="openai", api_key="sk-rows-test-0000000001")
    return run_start(project=project, user=user, provider="openai")


def _request(user, project, **fields) -> LLMRequest:
    values = {"agent": "SpecWriter", "provider": "openai", "model": "gpt-4o-mini",
              "key_source": "user", "prompt": [{"role": "user", "content": "Hi «ünïcode»"}],
              "response": "{}", "prompt_tokens": 3, "completion_tokens": 4, "latency_ms": 5,
              "status": "success", "cost": Decimal("0.000123"), **fields}  # fmt: skip
    return LLMRequest(user=user, project=project, **values)


def test_inserted_rows_read_back_as_django_would_store_them(user, project):
    ours, django = _request(user, project), _request(user, project, agent="Architect")
    [inserted] = rows_insert([ours])
    LLMRequest.objects.bulk_create([django])

    assert inserted is ours and not ours._state.adding
    stored = {r.agent: r for r in LLMRequest.objects.filter(pk__in=[ours.pk, django.pk])}
    fields = [f.attname for f in LLMRequest._meta.concrete_fields if f.attname not in
              ("id", "agent", "created_at")]  # fmt: skip
    assert [getattr(stored["SpecWriter"], f) for f in fields] == [
        getattr(stored["Architect"], f) for f in fields
    ]
    assert stored["SpecWriter"].prompt[0]["content"] == "Hi «ünïcode»"
    assert stored["SpecWriter"].created_at is not None
    [unpriced] = rows_insert([_request(user, project, cost=None)])
    assert LLMRequest.objects.get(pk=unpriced.pk).cost is None  # NULL, not 0


def test_several_rows_get_their_own_keys_in_order_and_keep_a_time_set_before(project):
    earlier = timezone.now() - timedelta(minutes=5)
    rows = [ProjectEvent(project=project, name=f"E{i}", payload={"i": i}) for i in range(3)]
    rows[0].created_at = earlier

    rows_insert(rows)

    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    for row in rows:
        stored = ProjectEvent.objects.get(pk=row.pk)
        assert (stored.name, stored.payload) == (row.name, row.payload)
    assert ProjectEvent.objects.get(pk=rows[0].pk).created_at == earlier
    assert ProjectEvent.objects.get(pk=rows[1].pk).created_at > earlier


def test_a_row_whose_unique_key_is_taken_is_skipped_not_raised(project):
    latest = ProjectState.objects.get(branch__project=project)
    taken = ProjectState(branch_id=latest.branch_id, step_index=latest.step_index, data={"x": 1})
    free = ProjectState(branch_id=latest.branch_id, step_index=latest.step_index + 1, data={})

    assert rows_insert([taken], skip_taken=True) == []
    assert taken.pk is None and taken._state.adding
    assert rows_insert([free], skip_taken=True) == [free] and free.pk is not None
    assert ProjectState.objects.get(pk=latest.pk).data == latest.data  # left as it was
    other = ProjectState(branch_id=latest.branch_id, step_index=9, data={})
    with pytest.raises(ValueError):  # several rows could not tell which went in
        rows_insert([taken, other], skip_taken=True)
    assert not ProjectState.objects.filter(step_index=9).exists()


def test_an_update_holds_only_while_its_where_does(run):
    where = {"pk": run.pk, "last_seq": run.last_seq, "cancel_requested": False}

    assert rows_update(GenerationRun, where={**where, "last_seq": run.last_seq + 1},
                       values={"stage": "architecture"}) == 0  # fmt: skip
    assert rows_update(GenerationRun, where=where, values={"stage": "architecture"}) == 1
    run.refresh_from_db()
    assert run.stage == "architecture"
    with pytest.raises(ValueError):
        rows_update(GenerationRun, where={"pk": run.pk, "lease": None}, values={"stage": "x"})


def test_additions_accumulate_decimals_exactly(user):
    usage = TokenUsage.objects.create(user=user, day=timezone.localdate(), provider="openai",
                                      model="gpt-4o-mini")  # fmt: skip
    for cost in (Decimal("0.000123"), Decimal("1.5"), Decimal("0.000001")):
        added = {"requests": 1, "prompt_tokens": 10, "cost": cost}
        assert rows_update(TokenUsage, where={"user": user.pk, "day": usage.day}, add=added) == 1

    usage.refresh_from_db()
    assert (usage.requests, usage.prompt_tokens, usage.cost) == (3, 30, Decimal("1.500124"))


def test_saving_chosen_fields_leaves_the_others_and_a_gone_row_is_said(run):
    GenerationRun.objects.filter(pk=run.pk).update(question="asked elsewhere")
    run.stage, run.progress = "tasks", 40

    row_save(run, ["stage", "progress"])

    run.refresh_from_db()
    assert (run.stage, run.progress, run.question) == ("tasks", 40, "asked elsewhere")
    GenerationRun.objects.filter(pk=run.pk).delete()
    with pytest.raises(GenerationRun.DoesNotExist):
        row_save(run, ["stage"])
