"""Events of the File Management context (domain model, section 5)."""

import dataclasses

from core.events import ProjectScopedEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileCreated(ProjectScopedEvent):
    branch: str
    step_index: int
    path: str
    content_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileUpdated(ProjectScopedEvent):
    branch: str
    step_index: int
    path: str
    old_content_id: str
    new_content_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileDeleted(ProjectScopedEvent):
    branch: str
    step_index: int
    path: str
    old_content_id: str
