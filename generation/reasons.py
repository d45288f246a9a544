"""Why a run stopped: a language-neutral code stored on the run, a sentence shown to people.

The sentence is rendered when it is shown, so each user reads it in their own language.
"""

from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from core.texts import code_text
from files.services import refusal_text
from llm.errors import error_text

BUDGET_COST = "budget_cost"
BUDGET_CALLS = "budget_calls"
PLATFORM_BUDGET = "platform_budget"
UNPRICED = "unpriced"
WALL_CLOCK = "wall_clock"
TIME_LIMIT = "time_limit"
RESUMES = "resumes"
FIX_ATTEMPTS = "fix_attempts"
PACKAGE_REFUSED = "package_refused"
PACKAGE_MISSING = "package_missing"
LOOP_ERROR = "loop_error"
LOOP_CONTENT = "loop_content"
KEY_MISSING = "key_missing"
KEY_REJECTED = "key_rejected"
LLM_FAILED = "llm_failed"
SANDBOX = "sandbox_unavailable"
FILES_REFUSED = "files_refused"
TOO_MANY_QUESTIONS = "too_many_questions"
CANCELLED = "cancelled"
INTERNAL = "internal"


def _templates() -> dict[str, str]:
    return {
        BUDGET_COST: _(
            "The run reached its budget of $%(limit)s (spent $%(spent)s). Raise the "
            "project's budget or start a smaller change."
        ),
        BUDGET_CALLS: _(
            "The run reached its limit of %(limit)s LLM calls. Raise the project's limit "
            "or start a smaller change."
        ),
        PLATFORM_BUDGET: _(
            "The run reached the limit of $%(limit)s per run on the platform's keys (spent "
            "$%(spent)s). Store your own key under Settings → API keys to spend more."
        ),
        UNPRICED: _(
            "%(model)s answered without a known cost, so the platform's key cannot pay for "
            "it. Choose a model with a price, or store your own key under Settings → API keys."
        ),
        WALL_CLOCK: _("The run took longer than its limit of %(limit)s minutes."),
        TIME_LIMIT: _(
            "The run went over the worker's time limit of %(limit)s minutes and was "
            "stopped. Resume it to go on from its last step."
        ),
        RESUMES: _(
            "The run's worker stopped %(count)s times before the step at work could "
            "finish, so the run was not resumed again. Look at the last step, then resume it."
        ),
        FIX_ATTEMPTS: _(
            "“%(command)s” still fails after %(attempts)s attempts to fix it. Look at the "
            "last output, edit the files or ask for a change."
        ),
        PACKAGE_REFUSED: _(
            "Installing the dependencies needs %(hosts)s, which the package proxy refuses: "
            "installs reach only the package registries. %(attempts)s attempts to change the "
            "manifest did not help; remove what needs that host or ask your administrator "
            "to allow it."
        ),
        PACKAGE_MISSING: _(
            "The package registry has no “%(package)s”, and %(attempts)s attempts to fix the "
            "manifest did not help. Check the package's name and version."
        ),
        LOOP_ERROR: _(
            "The same error came back after it had been fixed (“%(command)s”); the run "
            "stopped instead of going round in circles."
        ),
        LOOP_CONTENT: _(
            "The fix for “%(command)s” produced files that were already tried; the run "
            "stopped instead of going round in circles."
        ),
        KEY_MISSING: _("No API key for %(provider)s. Add one under Settings → API keys."),
        KEY_REJECTED: _(
            "%(provider)s rejected the API key. Check or replace it under Settings → API keys."
        ),
        LLM_FAILED: _("The language model could not answer: %(detail)s"),
        SANDBOX: _("The sandbox could not run commands: %(detail)s"),
        FILES_REFUSED: _(
            "The files written could not be kept: %(detail)s Edit the files or ask for a "
            "smaller change."
        ),
        TOO_MANY_QUESTIONS: _("The specification still had open questions after your answers."),
        CANCELLED: _("Stopped at your request."),
        INTERNAL: _("An internal error stopped the run; it has been logged."),
    }


MONEY = {"limit", "spent"}  # amounts in USD, formatted for the active language


def reason_text(code: str, params: dict[str, Any]) -> str:
    if not code:
        return ""
    if code in (BUDGET_COST, PLATFORM_BUDGET):
        params = {key: _money(value) if key in MONEY else value for key, value in params.items()}
    if code == LLM_FAILED and "error" in params:  # older runs stored the sentence as detail
        params = {"detail": _llm_detail(params)}
    if code == FILES_REFUSED and "refused" in params:
        params = {"detail": " ".join(refusal_text(**one) for one in params["refused"])}
    templates = _templates()
    text = code_text(templates, code, params)
    return text if text is not None else templates[INTERNAL]


def _llm_detail(params: dict[str, Any]) -> str:
    """The LLM error's own message (stored as its code and parameters) in this language."""
    rest = {key: value for key, value in params.items() if key != "error"}
    return error_text(params["error"], rest)


def _money(value: Any) -> str:
    try:
        return number_format(Decimal(str(value)), decimal_pos=2, use_l10n=True)
    except ArithmeticError:
        return str(value)
