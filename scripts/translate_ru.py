"""Fill untranslated or fuzzy ru entries from a JSON file of {msgid: translation}.

A helper for developers (not run by make): `python scripts/translate_ru.py FILE.json`.
Plural entries take a list of three forms (one, few, many). Clears the fuzzy flag and
the previous msgid that makemessages leaves on a changed entry.
"""

import json
import sys
from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parent.parent / "locale/ru/LC_MESSAGES/django.po"


def main(path: str) -> int:
    translations = json.loads(Path(path).read_text(encoding="utf-8"))
    po = polib.pofile(str(CATALOGUE))
    missing = []
    for entry in po:
        if entry.obsolete or (entry.translated() and "fuzzy" not in entry.flags):
            continue
        value = translations.get(entry.msgid)
        if value is None:
            missing.append(entry.msgid)
            continue
        if entry.msgid_plural:
            entry.msgstr_plural = dict(enumerate(value))
        else:
            entry.msgstr = value
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = None
    po.save()
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
