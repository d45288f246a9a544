"""Writes of the Code Generation context, one module per reason to change.

- ``runs``: a run's lifecycle for its user (start, answer, stop, finish);
- ``lease``: the worker's claim on a run, its heartbeat, and runs nobody drives;
- ``steps``: a step's commit (UpdateProjectState) under the lease;
- ``eventlog``: the run's event log and its publishing;
- ``outputs``: the output of commands whose worker died, kept as interrupted attempts.

Imports point one way: steps → runs → lease → eventlog, and runs, lease → outputs.
Views and the API call the lifecycle commands re-exported here.
"""

from generation.services.runs import RunConflict, run_answer, run_cancel, run_start

__all__ = ["RunConflict", "run_answer", "run_cancel", "run_start"]
