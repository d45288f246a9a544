"""Rows that are written once: history (states, contents, logs, events) never changes."""

from typing import TYPE_CHECKING, Any

from django.db import models

# A plain class at run time (migrations name it among a model's bases); a model to the
# type checker, which then knows _state and save().
if TYPE_CHECKING:
    _ModelBase = models.Model
else:
    _ModelBase = object


class WriteOnceMixin(_ModelBase):
    """Refuse to save a row that is already stored; say why in ``write_once_reason``."""

    write_once_reason = "This record is append-only."

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(self.write_once_reason)
        super().save(*args, **kwargs)
