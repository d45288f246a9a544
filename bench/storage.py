"""Storage benchmark (issue 3, goal of issue 18): a 200-file project, 1,000 steps
changing 2 files each.

    python bench/storage.py            # a fresh SQLite database under var/
    BENCH_DATABASE_URL=postgres://... python bench/storage.py

Prints rows and bytes per table and the file-per-state rows a naive design would need
(steps x files), so the ratio is measured, not assumed. The same steps are committed
first with the layout before issue 18 (a full manifest every 50 steps whatever changed),
in a project deleted afterwards, so both layouts are measured side by side in one run;
the table is the current layout's. Reads are timed from the database (the process's
cache of manifests emptied first) and counted in rows read.
"""

import time

from setup import django_on_fresh_database

FILES, STEPS, CHANGED_PER_STEP = 200, 1_000, 2
GOAL_ROWS = 5_000
OLD_CHECKPOINT_EVERY = 50
READ_EVERY = 37


def table_bytes(table: str) -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return cursor.fetchone()[0]
        try:
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = %s", [table])
            return cursor.fetchone()[0]
        except Exception:
            return None  # SQLite built without the dbstat table


def commit_steps(user, name: str):
    """The project's steps; (branch, seconds per commit)."""
    from files.services import files_commit
    from projects.services import project_create

    branch = project_create(owner=user, name=name).branches.get()
    body = "line of generated code\n" * 40
    started = time.perf_counter()
    files_commit(branch=branch, changes={f"src/m{i:03}.py": f"# {i}\n{body}" for i in range(FILES)})
    for step in range(STEPS):
        changes = {
            f"src/m{(step * 7 + k) % FILES:03}.py": f"# step {step} {k}\n{body}"
            for k in range(CHANGED_PER_STEP)
        }
        files_commit(branch=branch, changes=changes)
    return branch, (time.perf_counter() - started) / (STEPS + 1)


def reads(branch) -> tuple[float, int]:
    """Milliseconds to read one step's full manifest from the database, and the most
    rows one such read took (its checkpoint's and the changes replayed on top)."""
    from files.selectors import state_get, state_replay, state_replays_forget

    timings, most = [], 0
    for step in range(0, STEPS, READ_EVERY):
        state = state_get(branch=branch, step=step + 1)
        state_replays_forget()
        started = time.perf_counter()
        replay = state_replay(state)
        timings.append(time.perf_counter() - started)
        assert len(replay.manifest) == FILES
        most = max(most, replay.replayed + FILES)
    return sum(timings) / len(timings) * 1000, most


def layout_before(user) -> tuple[int, float, float, int]:
    """The old layout's rows, commit and read times, measured and then deleted."""
    from django.test import override_settings

    import files.services
    from files.models import StateFile
    from projects.services import project_delete

    rule, files.services.CHECKPOINT_MIN_ROWS = files.services.CHECKPOINT_MIN_ROWS, 10**9
    try:
        with override_settings(SAMOKODER_CHECKPOINT_EVERY=OLD_CHECKPOINT_EVERY):
            branch, commit = commit_steps(user, "Bench, old layout")
    finally:
        files.services.CHECKPOINT_MIN_ROWS = rule
    rows = StateFile.objects.filter(state__branch=branch).count()
    read_ms, most = reads(branch)
    project_delete(project=branch.project)
    return rows, commit, read_ms, most


def run() -> None:
    from accounts.models import User
    from files.models import File, FileContent, StateFile
    from projects.models import ProjectEvent, ProjectState

    user = User.objects.create_user(email="bench@example.com", password="bench-password")
    old_rows, old_commit, old_read, old_most = layout_before(user)
    branch, commit = commit_steps(user, "Bench")
    read_ms, most = reads(branch)

    print(f"{FILES} files, {STEPS} steps x {CHANGED_PER_STEP} changed files")
    print(f"{'table':28} {'rows':>9} {'bytes':>12}")
    for model in (ProjectState, StateFile, File, FileContent, ProjectEvent):
        table = model._meta.db_table
        size = table_bytes(table)
        print(f"{table:28} {model.objects.count():>9} {size if size is not None else 'n/a':>12}")
    print(f"naive file-per-state rows would be {(STEPS + 1) * FILES}")
    print(
        f"commit: {commit * 1000:.2f} ms per step; "
        f"read of one step's full manifest: {read_ms:.2f} ms"
    )
    rows = StateFile.objects.filter(state__branch=branch).count()
    verdict = "met" if rows <= GOAL_ROWS else "MISSED"
    print(f"file-state rows: {rows} (goal <= {GOAL_ROWS:,}: {verdict}); a manifest every "
          f"{OLD_CHECKPOINT_EVERY} steps, same run: {old_rows} "
          f"({rows / old_rows:.2f}x)")  # fmt: skip
    print(f"  commit per step {commit * 1000:.2f} ms vs {old_commit * 1000:.2f} ms; read of "
          f"one step {read_ms:.2f} ms vs {old_read:.2f} ms; rows read at most {most} "
          f"vs {old_most}")  # fmt: skip


if __name__ == "__main__":
    django_on_fresh_database("storage")
    run()
