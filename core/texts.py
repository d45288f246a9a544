"""Sentences stored as a language-neutral code and its parameters, worded when shown.

Runs' stop reasons, LLM errors, step labels and previews' reasons keep a code and
parameters, never a sentence: each reader gets it in their own language. Each context
owns its table of templates; this is the one way a code becomes text."""

from collections.abc import Mapping
from typing import Any


def code_text(templates: Mapping[str, str], code: str, params: Mapping[str, Any]) -> str | None:
    """``templates[code] % params``, or None when the code is unknown or the parameters
    do not fit its template (a row written by an older release): the caller says what
    stands in then."""
    template = templates.get(code)
    if template is None:
        return None
    try:
        return template % params
    except (KeyError, TypeError, ValueError):
        return None
