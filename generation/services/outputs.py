"""The output of a run's commands whose worker died while they ran.

While a command runs, its output so far is kept in Redis under the run (OutputRelay);
a command that ends has an ExecutionLog with the whole (a page loaded meanwhile shows
what is kept: ``selectors.outputs_running``). What is still in Redis when the run is
taken over after a crash (or stopped while nobody drives it) is the interrupted
attempt's: it becomes an ExecutionLog marked ``interrupted``, so the terminal keeps it,
apart from the rerun, after a re-render and a reload.
"""

from execution.models import ExecutionLog
from execution.services import command_interrupted_record
from generation.models import GenerationRun
from generation.publish import outputs_unfinished_take
from generation.selectors import output_ended


def outputs_interrupted_keep(*, run: GenerationRun) -> list[ExecutionLog]:
    """Keep the unfinished output of ``run``'s commands as interrupted ExecutionLogs of
    its project (bounded by the relay's limit), and take it out of Redis.

    One whose command has an ExecutionLog of this run since it began is left out: it
    ended, and only the relay's close had not removed it when the worker died.
    """
    kept = []
    for output in outputs_unfinished_take(run_id=run.pk):
        if not output_ended(run=run, output=output):
            kept.append(command_interrupted_record(
                project_id=run.project_id, run_id=run.pk, command=output.command,
                output=output.text, truncated=output.truncated,
            ))  # fmt: skip
    return kept
