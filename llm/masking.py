"""Secrets never stored: keys are masked out of prompts, responses and errors.

Known keys (the one in use, the system keys) are replaced wherever they appear; text
shaped like a provider key is masked too, so a key pasted into a description or
echoed back in an error message never reaches the database.
"""

import re
from collections.abc import Iterable
from typing import Any

KEY_SHAPES = re.compile(r"\b(?:sk-(?:ant-|proj-)?|gsk_|xai-)[A-Za-z0-9_\-]{12,}")


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True):
        text = text.replace(secret, _masked(secret))
    return KEY_SHAPES.sub(lambda match: _masked(match.group(0)), text)


def mask_value(value: Any, secrets: Iterable[str]) -> Any:
    """``mask_text`` applied to every string inside lists and dicts (a stored prompt)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, list):
        return [mask_value(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: mask_value(item, secrets) for key, item in value.items()}
    return value


def _masked(secret: str) -> str:
    return f"[key …{secret[-4:]} masked]"
