"""The SQL of the reference run's steps (issue 18: a pipeline step's overhead), counted
by kind and table: a change that adds a query to every step fails here and says which.

Both ``run_drive`` calls of the reference scenario run in this process (what the Celery
task calls); the user's answer between them is the API's, not counted. Transaction
control (BEGIN, savepoints) is left out: SQLite and PostgreSQL differ there.
"""

import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generation.pipeline.runner import run_drive
from generation.services import run_answer, run_start
from projects.models import ProjectState
from tests.generation.scenario import ANSWER, project_for, reference

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = re.compile(r'^(?:(UPDATE) |(SELECT|INSERT|DELETE)\b.*?\b(?:FROM|INTO) )"(\w+)"', re.S)
# Read once per process and kept (the key, a model's price and mode), or a row made on
# the day's first request (the user's token usage): their counts depend on the tests run
# before in this process; tests/llm/test_cached_lookups.py counts them.
CACHED = {"accounts_providerkey", "llm_modelprice", "llm_modelcapability", "llm_tokenusage"}
STEPS = 11  # states the two drives commit
COMMANDS = 3  # the tests run twice and the command step once

# What the reference run's drives send, and why: 2 claims, 10 steps (8 LLM requests, 3
# commands), the iteration's completion (a state) and the run's end.
EXPECTED: dict[tuple[str, str], tuple[int, str]] = {
    ("SELECT", "generation_generationrun"): (
        8,
        "the run locked: 2 claims, the question's commit (a step that parks the run), the "
        "end; 2 user's runs ahead of it (the claims' slot), 2 queued runs to wake (the "
        "question, the end). Other steps commit with no lock: one guarded UPDATE",
    ),
    ("UPDATE", "generation_generationrun"): (13, "the run saved: 2 claims, 10 commits, the end"),
    ("SELECT", "accounts_user"): (2, "the user's row locked by each claim (its slot)"),
    ("SELECT", "llm_llmrequest"): (
        2,
        "the run's usage totals: the second claim (the first: none yet), the end (a "
        "step's commit adds what it spent)",
    ),
    ("INSERT", "llm_llmrequest"): (8, "one row per LLM request"),
    ("INSERT", "projects_projectevent"): (
        14,
        "LLMRequestSent with -ResponseReceived per request, the commands' events, FileCreated",
    ),
    ("SELECT", "projects_projectstate"): (
        2,
        "the latest state: the first step of each drive; a step's commit, and the "
        "completion's, append after the state the worker holds",
    ),
    ("INSERT", "projects_projectstate"): (11, "one state per step and the completion"),
    ("INSERT", "generation_pipelineevent"): (13, "the run's events: 2 claims, 10 commits, the end"),
    ("SELECT", "files_filecontent"): (6, "the texts for 3 commands and 1 more, sizes of 2 writes"),
    ("INSERT", "files_filecontent"): (2, "the texts of 2 steps that wrote files"),
    ("SELECT", "files_file"): (3, "the paths of 2 writes (one before and after adding new ones)"),
    ("INSERT", "files_file"): (1, "the new paths of the first write"),
    ("INSERT", "files_statefile"): (2, "the files of 2 writes"),
    ("SELECT", "execution_container"): (3, "the project's sandbox, once per command"),
    ("INSERT", "execution_container"): (1, "the sandbox, made by the first command"),
    ("INSERT", "execution_executionlog"): (3, "one log per command"),
}


def kind_and_table(sql: str) -> tuple[str, str] | None:
    found = TABLE.match(sql.lstrip())
    if found is None or found[3] in CACHED:
        return None  # transaction control, or a cached lookup
    return found[1] or found[2], found[3]


def test_a_reference_run_sends_these_queries_per_step(user, pipeline_settings, replay):
    replay.load_dict(reference())
    project = project_for(user)
    run = run_start(project=project, user=user, provider="openai")
    drive = {"project_id": str(project.pk), "user_id": user.pk}
    states = ProjectState.objects.filter(branch__project=project)
    before = states.count()
    with CaptureQueriesContext(connection) as asking:
        run_drive(**drive)
    run.refresh_from_db()
    assert run.status == "awaiting_input"
    steps = states.count() - before
    run_answer(run=run, answer=ANSWER)  # a step too, not the drives'
    before = states.count()
    with CaptureQueriesContext(connection) as rest:
        run_drive(**drive)
    run.refresh_from_db()
    assert run.status == "completed", run.reason
    steps += states.count() - before

    sent = [q["sql"] for q in asking.captured_queries + rest.captured_queries]
    counted = Counter(filter(None, map(kind_and_table, sent)))
    assert steps == STEPS
    actual = {key: n for key, n in sorted(counted.items())}
    expected = {key: n for key, (n, _why) in sorted(EXPECTED.items())}
    lines = "\n".join(f"  {n:3} {kind} {table}: {why}"
                      for (kind, table), (n, why) in sorted(EXPECTED.items()))  # fmt: skip
    # The commits of the steps that neither park nor end the run (all but the question
    # and the completion) and each command's log do not wait for the disk
    # (core.durability: redone on resume); the LLM requests' records and the rest do.
    unflushed = sum("SET LOCAL synchronous_commit TO OFF" in sql for sql in sent)
    assert unflushed == (STEPS - 2 + COMMANDS if connection.vendor == "postgresql" else 0)
    assert actual == expected, (
        f"{sum(actual.values())} queries in {steps} steps ({sum(actual.values()) / steps:.1f} "
        f"a step): {actual}\nexpected {sum(expected.values())}:\n{lines}"
    )
