"""Shared by the benchmarks: Django on a fresh database of its own, never the app's."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages (and tests.processes) import from here


def django_on_fresh_database(name: str) -> None:
    """Point Django at ``var/bench-NAME.sqlite3`` (recreated) or BENCH_DATABASE_URL, migrate."""
    db_file = ROOT / "var" / f"bench-{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{db_file}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
