"""How runs and their events read on the page: labels in the reader's language, short
details, where each of the six stages stands, and what the run does now.

Everything here is rendered when shown, from codes and committed state: an event logged
in one language reads in another for the next reader.
"""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from generation import reasons
from generation.models import GenerationRun, Stage
from generation.orchestrator import Action, ActionKind, next_action
from generation.schemas import PipelineState

# Events that only move the progress bar; the timeline leaves them out.
QUIET = {"ProjectStateUpdated", "GenerationStepCompleted"}
# Runs logged before an event was renamed read as the new name.
RENAMED = {"CommandExecuted": "PipelineCommandExecuted"}


def event_labels() -> dict[str, str]:
    return {
        "GenerationStarted": _("Generation started"),
        "GenerationResumed": _("Generation resumed"),
        "QuestionAsked": _("A question for you"),
        "QuestionAnswered": _("You answered"),
        "SpecificationGenerated": _("Specification written"),
        "ArchitectureDesigned": _("Architecture designed"),
        "TasksCreated": _("Tasks planned"),
        "StepsPlanned": _("Steps planned"),
        "CodeGenerated": _("Code written"),
        "PipelineCommandExecuted": _("Command run"),
        "ErrorDetected": _("Error detected"),
        "FixApplied": _("Fix applied"),
        "ErrorFixed": _("Error fixed"),
        "GenerationCompleted": _("Generation completed"),
        "GenerationFailed": _("Generation stopped"),
        "GenerationCancelled": _("Generation cancelled"),
        # What the activity line says while an agent works.
        "working:SpecWriter": _("The SpecWriter is writing the specification…"),
        "working:Architect": _("The Architect is choosing the structure…"),
        "working:TechLead": _("The TechLead is breaking the work into tasks…"),
        "working:Developer": _("The Developer is planning the task's steps…"),
        "working:CodeMonkey": _("The CodeMonkeys are writing files…"),
        "working:Executor": _("The Executor is running a command in the sandbox…"),
        "working:BugHunter": _("The BugHunter is looking for the bug…"),
        "waiting": _("Waiting for your answer."),
        "queued": _("Waiting for a free worker…"),
    }


# Who performs each kind of action (the activity line names them).
AGENT_OF = {
    ActionKind.SPEC: "SpecWriter", ActionKind.ARCHITECTURE: "Architect",
    ActionKind.TASKS: "TechLead", ActionKind.PLAN: "Developer", ActionKind.WRITE: "CodeMonkey",
    ActionKind.RUN: "Executor", ActionKind.TEST: "Executor", ActionKind.DEBUG: "BugHunter",
}  # fmt: skip


def event_detail(name: str, payload: dict[str, Any], run: GenerationRun | None = None) -> str:
    """One line about an event, from its payload (code, paths, the agents' own words) or,
    for a stop, from its reason code rendered now; rows logged before the code was kept
    show the sentence they were logged with."""
    if name == "PipelineCommandExecuted":
        return f"$ {payload['command']} → {payload['exit_code']}"
    if name in {"CodeGenerated", "FixApplied"}:
        return ", ".join(payload.get("files", []))
    if name == "ErrorDetected":
        return f"$ {payload['command']}"
    if name == "TasksCreated":
        return "; ".join(task["description"] for task in payload.get("tasks", []))
    if name == "QuestionAsked":
        return payload["question"]
    if name == "GenerationFailed":
        if "params" in payload:
            return reasons.reason_text(payload["error"], payload["params"])
        if run is not None and payload.get("error") and payload["error"] == run.reason_code:
            return run.reason  # an older row: the run still has the code and parameters
        return payload.get("reason", "")
    if name == "GenerationCancelled":
        return reasons.reason_text(reasons.CANCELLED, {})
    if name == "SpecificationGenerated":
        return payload["spec"].get("summary", "")
    if name == "ArchitectureDesigned":
        return payload["architecture"].get("summary", "")
    return ""


def upcoming(data: PipelineState) -> Action:
    """What the run does next from this committed state: the step at work while it runs."""
    return next_action(data, fix_attempts=settings.SAMOKODER_RUN_FIX_ATTEMPTS,
                       parallel=settings.SAMOKODER_CODEMONKEY_LIMIT)  # fmt: skip


def stages(data: PipelineState, run: GenerationRun | None) -> list[dict[str, Any]]:
    """Each stage as done, current or pending. The current one is the stage of the step
    at work (it lights up as it starts, Debugging while the BugHunter works), read from the
    committed state like the orchestrator reads it."""
    tasks = data.iteration_tasks()
    done = {
        Stage.SPECIFICATION: data.specification is not None,
        Stage.ARCHITECTURE: data.architecture is not None,
        Stage.TASKS: bool(tasks),
        Stage.DEVELOPMENT: bool(tasks) and all(task.status == "done" for task in tasks),
        Stage.EXECUTION: data.tests_passed,
        Stage.DEBUGGING: data.debugging is None and data.tests_passed,
    }
    current = str(upcoming(data).stage) if run is not None and run.is_active else ""
    return [
        {"value": stage.value, "label": stage.label,
         "status": "current" if stage.value == current else ("done" if done[stage] else "pending")}
        for stage in Stage
    ]  # fmt: skip


def status_label(data: PipelineState, run: GenerationRun | None) -> str:
    """The run's state in a few words: "Completed", "Failed at Debugging", "Running · …"."""
    if run is None:
        return ""
    stage = Stage(upcoming(data).stage).label
    if run.status == GenerationRun.Status.COMPLETED:
        return _("Completed")
    if run.status == GenerationRun.Status.FAILED:
        return _("Failed at %(stage)s") % {"stage": stage}
    if run.status == GenerationRun.Status.CANCELLED:
        return _("Stopped at %(stage)s") % {"stage": stage}
    if run.status == GenerationRun.Status.AWAITING_INPUT:
        return _("Waiting for your answer")
    if run.status == GenerationRun.Status.QUEUED:
        return _("Queued")
    return _("Running: %(stage)s") % {"stage": stage}


def activity(data: PipelineState, run: GenerationRun | None) -> str:
    """Who works now and on what, until the live line takes over."""
    if run is None or not run.is_active:
        return ""
    labels = event_labels()
    if run.status == GenerationRun.Status.AWAITING_INPUT:
        return labels["waiting"]
    if run.status == GenerationRun.Status.QUEUED:
        return labels["queued"]
    agent = AGENT_OF.get(upcoming(data).kind)
    return labels.get(f"working:{agent}", "") if agent else ""
