"""Rows that are written once: history (states, contents, logs, events) never changes."""

from typing import Any


class WriteOnceMixin:
    """Refuse to save a row that is already stored; say why in ``write_once_reason``."""

    write_once_reason = "This record is append-only."

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(self.write_once_reason)
        super().save(*args, **kwargs)
