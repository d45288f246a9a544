"""History is never rewritten: every write-once model refuses to save a stored row."""

import pytest

from execution.models import ExecutionLog
from files.models import FileContent
from files.services import file_save
from llm.models import LLMRequest
from projects.models import ProjectEvent, ProjectState
from projects.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(user):
    project = project_create(owner=user, name="History")
    file_save(branch=project.branches.get(), path="a.txt", text="first")
    llm = LLMRequest.objects.create(
        user=user, agent="SpecWriter", provider="openai", model="gpt-4.1",
        key_source="user", status="success",
    )  # fmt: skip
    log = ExecutionLog.objects.create(project=project, command="true", exit_code=0)
    return {
        "state": (ProjectState.objects.filter(branch__project=project).last(), "data", {"x": 1}),
        "content": (FileContent.objects.get(text="first"), "text", "changed"),
        "event": (ProjectEvent.objects.filter(project=project).first(), "payload", {}),
        "llm request": (llm, "response", "rewritten"),
        "execution log": (log, "stdout", "rewritten"),
    }


def test_write_once_rows_refuse_a_second_save(rows):
    for name, (row, field, value) in rows.items():
        original = getattr(row, field)
        setattr(row, field, value)
        with pytest.raises(ValueError, match=r"append-only|immutable"):
            row.save()
        row.refresh_from_db()
        assert getattr(row, field) == original, name
