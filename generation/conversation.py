"""The project's conversation: every run, oldest first, as messages a person can read.

Built from the PipelineEvent log and the runs' own rows. Events between two
GenerationStepCompleted events belong to the agent that completed that step, and that
step's cost is the agent's LLM requests made before it completed.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from execution.models import ExecutionLog
from execution.selectors import commands_of_runs
from generation import selectors
from generation.display import QUIET, RENAMED, event_detail, event_labels
from generation.models import GenerationRun, PipelineEvent
from llm.models import LLMRequest
from llm.selectors import runs_requests
from projects.models import Project

# Said by the platform or by the user, never by the agent whose step they fall in.
NOT_BY_AN_AGENT = {
    "GenerationStarted", "GenerationResumed", "GenerationCompleted", "GenerationFailed",
    "GenerationCancelled", "QuestionAnswered",
}  # fmt: skip


@dataclass
class Message:
    """One event as the page shows it: who, what, and what it refers to."""

    seq: int
    name: str
    label: str
    payload: dict[str, Any]
    agent: str = ""
    cost: Decimal | None = None
    log: ExecutionLog | None = None
    outcome: str = ""  # a command's exit code in words
    detail: str = ""  # a stop's reason, rendered in the reader's language


@dataclass
class RunThread:
    """One run: what opened it (a change request, a resume) and its messages."""

    run: GenerationRun
    number: int
    change: str = ""  # the text of the change request that opened this iteration
    resumed: bool = False
    messages: list[Message] = field(default_factory=list)
    commands: list[tuple[ExecutionLog, str]] = field(default_factory=list)  # with outcome


def command_outcome(*, exit_code: int | None, timed_out: bool, interrupted: bool = False) -> str:
    """A command's ending in words, for people who do not read exit codes."""
    if interrupted:
        return _("Interrupted: the worker running it stopped; above is what it printed until then")
    if timed_out:
        return _("Timed out")
    if exit_code is None:
        return _("Stopped before it finished")
    if exit_code == 0:
        return _("Succeeded (exit code 0)")
    return _("Failed (exit code %(code)s)") % {"code": exit_code}


RECENT_RUNS = 10  # the runs a conversation shows at first; the earlier ones on request


def project_conversation(*, project: Project, last: int | None = None) -> list[RunThread]:
    """The project's runs (the ``last`` ones, else all) with their messages, commands and
    costs, oldest first; each keeps its number among all the project's runs."""
    runs = selectors.run_history(project=project)
    first = max(len(runs) - last, 0) if last is not None else 0
    ids = [run.pk for run in runs[first:]]
    events = _by_run(selectors.run_events_shown(run_ids=ids, quiet=QUIET))
    logs = _by_run(commands_of_runs(run_ids=ids))
    requests = _by_run(runs_requests(run_ids=ids))
    threads, opened = [], set()
    texts: dict[int, list[str]] = {}
    for number, run in enumerate(runs, start=1):
        resumed = (run.branch_id, run.iteration) in opened
        opened.add((run.branch_id, run.iteration))
        if number <= first:  # not shown: only whether a later run resumes its iteration
            continue
        thread = RunThread(run=run, number=number, resumed=resumed)
        if run.iteration and not thread.resumed:
            asked = texts.setdefault(run.branch_id, [
                iteration.description
                for iteration in selectors.pipeline_state(run.branch).iterations
            ])  # fmt: skip
            thread.change = asked[run.iteration] if run.iteration < len(asked) else ""
        mine = logs.get(run.pk, [])
        thread.commands = [
            (log, command_outcome(exit_code=log.exit_code, timed_out=log.timed_out,
                                  interrupted=log.interrupted))
            for log in mine
        ]  # fmt: skip
        thread.messages = _messages(
            events.get(run.pk, []), {str(log.pk): log for log in mine}, requests.get(run.pk, [])
        )
        threads.append(thread)
    return threads


def _by_run(rows: list) -> dict:
    """Rows that have a ``run_id``, grouped by it, order kept."""
    grouped: dict = {}
    for row in rows:
        grouped.setdefault(row.run_id, []).append(row)
    return grouped


def _messages(
    events: list[PipelineEvent], logs: dict[str, ExecutionLog], requests: list[LLMRequest]
) -> list[Message]:
    labels = event_labels()
    messages: list[Message] = []
    pending: list[Message] = []  # the messages of the step not yet completed
    spent: set = set()
    for event in events:
        if event.name == "GenerationStepCompleted":
            agent = event.payload.get("agent", "")
            cost = _step_cost(requests, spent, agent=agent, before=event.created_at)
            said = [message for message in pending if message.name not in NOT_BY_AN_AGENT]
            for message in said:
                message.agent = agent
            if said:
                said[-1].cost = cost
            messages += pending
            pending = []
            continue
        pending.append(_message(event, labels, logs))
    return messages + pending


def _message(event: PipelineEvent, labels: dict[str, str], logs: dict) -> Message:
    name = RENAMED.get(event.name, event.name)
    message = Message(seq=event.seq, name=name, label=labels.get(name, name), payload=event.payload)
    if name == "GenerationFailed":
        message.detail = event_detail(name, event.payload)
    if name == "PipelineCommandExecuted":
        message.log = logs.get(str(event.payload.get("log_id")))
        message.outcome = command_outcome(
            exit_code=event.payload.get("exit_code"), timed_out=event.payload.get("timed_out")
        )
    return message


def _step_cost(requests: list[LLMRequest], spent: set, *, agent: str, before) -> Decimal | None:
    """The cost of ``agent``'s requests up to ``before`` not yet counted for a step."""
    mine = [
        r for r in requests if r.pk not in spent and r.agent == agent and r.created_at <= before
    ]
    spent.update(r.pk for r in mine)
    priced = [r.cost for r in mine if r.cost is not None]
    return sum(priced, Decimal(0)) if priced else None


def answer_labels() -> dict[str, str]:
    """Headings for an agent's answer rendered as text while it streams (run-live.js)."""
    return {
        "answer:questions": _("Questions"),
        "answer:summary": _("Summary"),
        "answer:requirements": _("Requirements"),
        "answer:runtime": _("Runtime"),
        "answer:files": _("Files"),
        "answer:test_command": _("Test command"),
        "answer:epics": _("Epics"),
        "answer:tasks": _("Tasks"),
        "answer:steps": _("Steps"),
        "answer:explanation": _("Explanation"),
        "answer:path": _("File"),
        "answer:lines": _("lines written"),
        "step:command": _("Run"),
        "step:save_file": _("Write"),
        "step:human_intervention": _("Ask you"),
    }
