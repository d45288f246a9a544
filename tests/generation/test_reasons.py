"""Stop reasons are kept as codes and parameters and read in each reader's language,
whatever language the worker that stopped the run was running in."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from files.services import files_commit, refusals
from generation import reasons
from llm import errors
from projects.services import project_create

pytestmark = pytest.mark.django_db


def _refused(branch, changes) -> list[dict]:
    with translation.override("ru"), pytest.raises(ValidationError) as caught:  # the worker
        files_commit(branch=branch, changes=changes)
    return refusals(caught.value)


def test_refused_files_read_in_the_readers_language(user):
    branch = project_create(owner=user, name="Refused").branches.get()
    binary = _refused(branch, {"data.bin": "a\x00b"})
    unsafe = _refused(branch, {"../escape.py": "x"})

    with translation.override("en"):
        text = reasons.reason_text(reasons.FILES_REFUSED, {"refused": binary + unsafe})
        assert "data.bin looks binary; only text files are stored." in text
    with translation.override("ru"):
        russian = reasons.reason_text(reasons.FILES_REFUSED, {"refused": binary})
    assert "data.bin" in russian and "binary" not in russian
    assert reasons.reason_text(reasons.FILES_REFUSED, {"detail": "frozen."}).count("frozen.") == 1


def test_an_llm_failure_reads_in_the_readers_language_and_old_rows_as_written():
    error = errors.ProviderUnavailable(params={"provider": "Groq", "detail": "timeout"})
    params = {"error": error.code, **error.params}

    with translation.override("en"):
        english = reasons.reason_text(reasons.LLM_FAILED, params)
    with translation.override("ru"):
        russian = reasons.reason_text(reasons.LLM_FAILED, params)
        old = reasons.reason_text(reasons.LLM_FAILED, {"detail": "OpenAI sent junk."})

    assert english == "The language model could not answer: Groq is not answering (timeout)."
    assert russian.startswith("Языковая модель не смогла ответить: Groq")
    assert "timeout" not in russian
    assert old.endswith("OpenAI sent junk.")
