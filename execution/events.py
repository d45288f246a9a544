"""Events of the Execution context."""

import dataclasses

from samokoder_site.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContainerCreated(DomainEvent):
    project_id: str
    container_id: str
    backend: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandExecuted(DomainEvent):
    project_id: str
    command: str
    exit_code: int | None
    duration_ms: int
    truncated: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommandTimeout(DomainEvent):
    project_id: str
    command: str
    timeout_s: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilesRefused(DomainEvent):
    """Files a command left that were not synced back (symlinks, escapes, binaries)."""

    project_id: str
    paths: dict


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContainerStopped(DomainEvent):
    project_id: str
    container_id: str
    reason: str
