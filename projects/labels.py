"""What each step of a branch did, in a few words: stored as a code plus parameters on
the ProjectState when it is created, rendered when shown in the reader's language."""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from core.texts import code_text

CREATED = "created"
STARTED = "started"
CHANGE = "change"
QUESTION = "question"
ANSWER = "answer"
SPEC = "spec"
ARCHITECTURE = "architecture"
TASKS = "tasks"
STEPS = "steps"
WROTE = "wrote"
RAN = "ran"
FAILED = "failed"
FIX = "fix"
FIXES_RESET = "fixes_reset"
COMPLETED = "completed"
EDIT = "edit"
DELETE = "delete"
FORK = "fork"


@dataclass(frozen=True)
class StepLabel:
    """A step's label as stored: ``code`` names the sentence, ``params`` fill it."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _templates() -> dict[str, str]:
    return {
        CREATED: _("Project created"),
        STARTED: _("Generation started"),
        CHANGE: _("Change asked: %(text)s"),
        QUESTION: _("A question for you"),
        ANSWER: _("Your answer"),
        SPEC: _("Spec written"),
        ARCHITECTURE: _("Structure chosen"),
        TASKS: _("Tasks planned: %(count)s"),
        STEPS: _("Steps of task %(task)s planned"),
        WROTE: _("Wrote %(files)s"),
        RAN: _("Ran `%(command)s`: passed"),
        FAILED: _("Ran `%(command)s`: failed"),
        FIX: _("Fix %(attempt)s for `%(command)s`"),
        FIXES_RESET: _("Fix attempts start again"),
        COMPLETED: _("Run completed"),
        EDIT: _("Your edit of %(path)s"),
        DELETE: _("You deleted %(path)s"),
        FORK: _("Branched from %(branch)s at step %(step)s"),
    }


def label_text(code: str, params: dict[str, Any], step_index: int) -> str:
    """The label in the active language; a step stored without one reads "Step N"."""
    text = code_text(_templates(), code, params)
    return text if text is not None else _("Step %(step)s") % {"step": step_index}
