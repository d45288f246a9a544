"""Lint check: the catalogues list every string the code marks for translation.

``check_translations.py`` finds unmarked strings and untranslated entries; this one
finds marked strings that never reached the catalogues (someone forgot
``makemessages``), which would show English on a Russian page. It runs
``makemessages`` (GNU gettext's xgettext), compares the entries it would write with
the committed ones, and puts the committed files back either way.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("ru", "en")
MAKEMESSAGES = [
    sys.executable,
    "manage.py",
    "makemessages",
    "--no-location",
    *(f"--locale={lang}" for lang in LOCALES),
    *(f"--ignore={folder}" for folder in (".venv", "var", "tests", "scripts", "bench")),
]


def _msgids(po_path: Path) -> set[tuple[str, str]]:
    return {(e.msgid, e.msgid_plural) for e in polib.pofile(str(po_path)) if not e.obsolete}


def main() -> int:
    catalogues = [ROOT / "locale" / lang / "LC_MESSAGES" / "django.po" for lang in LOCALES]
    with tempfile.TemporaryDirectory() as backup:
        saved = [Path(backup) / f"{n}.po" for n in range(len(catalogues))]
        for source, copy in zip(catalogues, saved, strict=True):
            shutil.copy2(source, copy)
        try:
            done = subprocess.run(MAKEMESSAGES, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"makemessages failed:\n{done.stdout}{done.stderr}")
                return 1
            stale = [c for c, s in zip(catalogues, saved, strict=True) if _msgids(c) != _msgids(s)]
            missing = {
                m for c, s in zip(catalogues, saved, strict=True) for m in _msgids(c) - _msgids(s)
            }
        finally:
            for source, copy in zip(catalogues, saved, strict=True):
                shutil.copy2(copy, source)
    for msgid, _plural in sorted(missing):
        print(f"not in the catalogue: {msgid!r}")
    if stale:
        print("Run: manage.py makemessages -l ru -l en --no-location, then translate (ru).")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
