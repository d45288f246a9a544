"""How runs and their events read on the page: labels in the user's language, short
details, and where each of the six stages stands."""

from typing import Any

from django.utils.translation import gettext as _

from generation.models import GenerationRun, Stage
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
        "working:SpecWriter": _("SpecWriter is writing the specification…"),
        "working:Architect": _("Architect is designing the structure…"),
        "working:TechLead": _("TechLead is planning the tasks…"),
        "working:Developer": _("Developer is planning the steps…"),
        "working:CodeMonkey": _("CodeMonkey is writing files…"),
        "working:BugHunter": _("BugHunter is looking for the bug…"),
    }


def event_detail(name: str, payload: dict[str, Any]) -> str:
    """One line about an event, from its payload (no translation needed: code, paths)."""
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
        return payload.get("reason", "")
    if name == "SpecificationGenerated":
        return payload["spec"].get("summary", "")
    if name == "ArchitectureDesigned":
        return payload["architecture"].get("summary", "")
    return ""


def timeline(run: GenerationRun, limit: int = 200) -> list[dict[str, Any]]:
    labels = event_labels()
    events = run.events.exclude(name__in=QUIET).order_by("-seq")[:limit]
    named = [(RENAMED.get(e.name, e.name), e) for e in reversed(list(events))]
    return [
        {"seq": e.seq, "name": name, "label": labels.get(name, name),
         "detail": event_detail(name, e.payload), "at": e.created_at}
        for name, e in named
    ]  # fmt: skip


def stages(data: PipelineState, run: GenerationRun | None) -> list[dict[str, Any]]:
    """Each stage as done, current or pending, from the committed state."""
    tasks = data.iteration_tasks()
    done = {
        Stage.SPECIFICATION: data.specification is not None,
        Stage.ARCHITECTURE: data.architecture is not None,
        Stage.TASKS: bool(tasks),
        Stage.DEVELOPMENT: bool(tasks) and all(task.status == "done" for task in tasks),
        Stage.EXECUTION: data.tests_passed,
        Stage.DEBUGGING: data.debugging is None and data.tests_passed,
    }
    current = run.stage if run is not None and run.is_active else ""
    return [
        {"value": stage.value, "label": stage.label,
         "status": "current" if stage.value == current else ("done" if done[stage] else "pending")}
        for stage in Stage
    ]  # fmt: skip
