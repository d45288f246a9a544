"""Whole numbers from query strings: ASCII digits only.

`str.isdigit()` is true for "²" or "\u0661" (Arabic-Indic one), which `int()` then
refuses or reads as another number; every step, sequence and day count the platform
accepts goes through here.
"""


def ascii_int(raw: str | None) -> int | None:
    """The value of `raw` when it is one or more ASCII digits, else None."""
    if raw and raw.isascii() and raw.isdecimal():
        return int(raw)
    return None
