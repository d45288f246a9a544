"""A sandbox command whose changes become the branch's next step, as these tests need it.

The pipeline runs ``command_run`` and commits the changes with its own step; the tests of
the sandbox commit them on their own, here.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from execution.models import ExecutionLog
from execution.services import command_run, commands_refused_report
from files.services import files_commit
from projects.models import Branch, ProjectState


@dataclass
class CommandOutcome:
    log: ExecutionLog
    state: ProjectState | None  # the step holding the files the command changed
    refused: dict[str, str] = field(default_factory=dict)


def command_execute(*, branch: Branch, command: str, **options) -> CommandOutcome:
    """Run ``command`` (``options`` as for ``command_run``) and commit what it changed;
    files the file rules refuse are reported (FilesRefused) like those never synced."""
    ran = command_run(branch=branch, command=command, **options)
    state = None
    if ran.changes:
        try:
            state = files_commit(branch=branch, changes=ran.changes)
        except ValidationError as exc:
            ran.refused.update({path: "; ".join(exc.messages) for path in ran.changes})
    commands_refused_report(branch=branch, refused=ran.refused)
    return CommandOutcome(log=ran.log, state=state, refused=ran.refused)
