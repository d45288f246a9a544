"""Storage benchmark (issue 3): a 200-file project, 1,000 steps changing 2 files each.

    python bench/storage.py            # a fresh SQLite database under var/
    BENCH_DATABASE_URL=postgres://... python bench/storage.py

Prints rows and bytes per table and the file-per-state rows a naive design would need
(steps x files), so the ratio is measured, not assumed.
"""

import time

from setup import django_on_fresh_database

FILES, STEPS, CHANGED_PER_STEP = 200, 1_000, 2


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


def run() -> None:
    from accounts.models import User
    from files.models import File, FileContent, StateFile
    from files.selectors import state_get, state_manifest
    from files.services import files_commit
    from projects.models import ProjectEvent, ProjectState
    from projects.services import project_create

    user = User.objects.create_user(email="bench@example.com", password="bench-password")
    branch = project_create(owner=user, name="Bench").branches.get()
    body = "line of generated code\n" * 40
    started = time.perf_counter()
    files_commit(branch=branch, changes={f"src/m{i:03}.py": f"# {i}\n{body}" for i in range(FILES)})
    for step in range(STEPS):
        changes = {
            f"src/m{(step * 7 + k) % FILES:03}.py": f"# step {step} {k}\n{body}"
            for k in range(CHANGED_PER_STEP)
        }
        files_commit(branch=branch, changes=changes)
    elapsed = time.perf_counter() - started

    read_started = time.perf_counter()
    for step in range(0, STEPS, 37):
        assert len(state_manifest(state_get(branch=branch, step=step + 1))) == FILES
    read_ms = (time.perf_counter() - read_started) / len(range(0, STEPS, 37)) * 1000

    print(f"{FILES} files, {STEPS} steps x {CHANGED_PER_STEP} changed files")
    print(f"{'table':28} {'rows':>9} {'bytes':>12}")
    for model in (ProjectState, StateFile, File, FileContent, ProjectEvent):
        table = model._meta.db_table
        size = table_bytes(table)
        print(f"{table:28} {model.objects.count():>9} {size if size is not None else 'n/a':>12}")
    print(f"naive file-per-state rows would be {(STEPS + 1) * FILES}")
    print(
        f"commit: {elapsed / (STEPS + 1) * 1000:.2f} ms per step; "
        f"read of one step's full manifest: {read_ms:.2f} ms"
    )


if __name__ == "__main__":
    django_on_fresh_database("storage")
    run()
