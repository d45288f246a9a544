"""The output of a run's commands that have not ended: running, or their worker died.

While a command runs, its output so far is kept in Redis under the run (OutputRelay);
a command that ends has an ExecutionLog with the whole. A page loaded meanwhile shows
what is kept, and the live messages go on from there. What is still in Redis when the
run is taken over after a crash (or stopped while nobody drives it) is the interrupted
attempt's: it becomes an ExecutionLog marked ``interrupted``, so the terminal keeps it,
apart from the rerun, after a re-render and a reload.
"""

from datetime import UTC, datetime

from execution.models import ExecutionLog
from execution.services import command_interrupted_record
from generation.models import GenerationRun
from generation.publish import UnfinishedOutput, outputs_unfinished_read, outputs_unfinished_take


def outputs_interrupted_keep(*, run: GenerationRun) -> list[ExecutionLog]:
    """Keep the unfinished output of ``run``'s commands as interrupted ExecutionLogs of
    its project (bounded by the relay's limit), and take it out of Redis.

    One whose command has an ExecutionLog of this run since it began is left out: it
    ended, and only the relay's close had not removed it when the worker died.
    """
    kept = []
    for output in outputs_unfinished_take(run_id=run.pk):
        if not _ended(run, output):
            kept.append(command_interrupted_record(
                project_id=run.project_id, run_id=run.pk, command=output.command,
                output=output.text, truncated=output.truncated,
            ))  # fmt: skip
    return kept


def outputs_running(*, run: GenerationRun) -> list[UnfinishedOutput]:
    """The output so far of ``run``'s commands that have not ended, oldest first: one
    whose ExecutionLog is in but whose relay has not yet closed is left out, so a page
    loaded in between shows it once."""
    if run.status != GenerationRun.Status.RUNNING:
        return []
    return [output for output in outputs_unfinished_read(run_id=run.pk) if not _ended(run, output)]


def _ended(run: GenerationRun, output: UnfinishedOutput) -> bool:
    started = datetime.fromtimestamp(output.started, tz=UTC)
    logs = ExecutionLog.objects.filter(run_id=run.pk, command=output.command)
    return logs.filter(created_at__gte=started).exists()
