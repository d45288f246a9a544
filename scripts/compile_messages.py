"""Compile every locale/*/LC_MESSAGES/*.po into its .mo with polib.

Django's `compilemessages` needs GNU gettext's msgfmt, which a fresh machine with only
Python lacks; polib writes the same .mo format, so `make run` needs nothing else.
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    catalogues = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))
    for po_path in catalogues:
        polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
    print(f"Compiled {len(catalogues)} message catalogue(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
