"""Events of the Execution context."""

import dataclasses

from django.utils.translation import gettext as _

from core.events import DomainEvent


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
class ChangesRefused(DomainEvent):
    """A command created more files or bytes than one command may: nothing it changed
    was kept. ``kind`` is "files" or "bytes"; ``limit`` the setting it went over."""

    project_id: str
    command: str
    kind: str
    limit: int

    def message(self) -> str:
        """The sentence shown for it, in the active language."""
        if self.kind == "files":
            text = _(
                "“%(command)s” created more than %(limit)d files, so none of its changes "
                "were kept. Write fewer files, or keep generated ones out of the project."
            )
        else:
            text = _(
                "“%(command)s” wrote more than %(limit)d bytes of files, so none of its "
                "changes were kept. Write less, or keep generated files out of the project."
            )
        return text % {"command": self.command, "limit": self.limit}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContainerStopped(DomainEvent):
    project_id: str
    container_id: str
    reason: str
