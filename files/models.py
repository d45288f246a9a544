import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.immutable import WriteOnceMixin
from projects.models import Project, ProjectState


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class FileContent(WriteOnceMixin, models.Model):
    """Immutable text addressed by its SHA-256 (invariant 19): stored once, shared by all."""

    write_once_reason = "File content is immutable; store the new text as new content."

    hash = models.CharField(max_length=64, primary_key=True, editable=False)
    text = models.TextField(editable=False)
    size = models.PositiveIntegerField(_("size in bytes"), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("file content")
        verbose_name_plural = _("file contents")

    def __str__(self) -> str:
        return self.hash[:12]


class File(models.Model):
    """A path in a project, unique per (project, path); its versions hang off states."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(_("path"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("file")
        verbose_name_plural = _("files")
        constraints = [
            models.UniqueConstraint(fields=["project", "path"], name="files_path_per_project"),
        ]

    def __str__(self) -> str:
        return self.path


class StateFile(models.Model):
    """What one path holds at one state; ``content`` None means deleted at that step.

    A checkpoint state has a row for every path; any other state only for the paths
    that changed since the step before it (files.services.files_commit says which).
    """

    state = models.ForeignKey(ProjectState, on_delete=models.CASCADE, related_name="files")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="versions")
    content = models.ForeignKey(FileContent, on_delete=models.PROTECT, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["state", "file"], name="files_one_row_per_state"),
        ]

    def __str__(self) -> str:
        return f"{self.file_id}@{self.state_id}"
