"""Domain events: typed values, appended to a context's own log table.

Each bounded context declares its events as frozen dataclasses deriving from
``DomainEvent`` and keeps a log model deriving from ``EventRecord``. ``record`` turns
one into the other; later, the pipeline also publishes what it records to the browser.
Payloads hold ids and names only, never secrets.
"""

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Self

from django.db import models

from core.immutable import WriteOnceMixin
from core.rows import rows_insert

_EVENT_TYPES: dict[str, type["DomainEvent"]] = {}


class DuplicateEventName(TypeError):
    """Two event classes under one name: a log row could not say which one it holds."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    name: ClassVar[str]

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        cls.name = cls.__name__
        known = _EVENT_TYPES.get(cls.name)
        # The same class defined again (its module reloaded) is no second meaning.
        if known is not None and known.__module__ != cls.__module__:
            raise DuplicateEventName(
                f"{cls.__module__}.{cls.name}: {known.__module__} already has an event of that name"
            )
        _EVENT_TYPES[cls.name] = cls

    def payload(self) -> dict[str, Any]:
        return {key: _plain(value) for key, value in dataclasses.asdict(self).items()}


def _plain(value: Any) -> Any:
    # UUIDs and datetimes become strings so the payload is JSON as stored and as sent.
    if isinstance(value, str | int | float | bool | type(None) | list | dict):
        return value
    return str(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProjectScopedEvent(DomainEvent, abstract=True):
    """An event about one project; the project's channel and log are found by its id."""

    project_id: str


class CreatedAt(models.DateTimeField):
    """``auto_now_add``, except that a time set on the row before its insert is kept: an
    event recorded after it happened (in one insert with a later one) keeps its own.

    Migrations see a plain ``DateTimeField(auto_now_add=True)``: the column is the same,
    only the value Django fills in differs.
    """

    def pre_save(self, model_instance: models.Model, add: bool) -> datetime:
        value = getattr(model_instance, self.attname)
        if add and value is not None:
            return value
        return super().pre_save(model_instance, add)

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs


class EventRecord(WriteOnceMixin, models.Model):
    """Append-only row for one event; concrete logs add their own foreign keys."""

    write_once_reason = "Events are append-only; a recorded event cannot change."

    name = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = CreatedAt(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    @classmethod
    def record(cls, event: DomainEvent, **links: Any) -> Self:
        return rows_insert([cls(name=event.name, payload=event.payload(), **links)])[0]

    @classmethod
    def record_many(
        cls, events: Sequence[DomainEvent], *, at: Sequence[datetime | None] = (), **links: Any
    ) -> list[Self]:
        """``events`` in one insert; ``at``: when each of the first ones happened, when
        that was before now (None, or past its end: now)."""
        times = [*at, *[None] * (len(events) - len(at))]
        rows = [cls(name=e.name, payload=e.payload(), created_at=when, **links)
                for e, when in zip(events, times, strict=True)]  # fmt: skip
        return rows_insert(rows)
