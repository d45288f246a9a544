import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.immutable import WriteOnceMixin
from projects.models import Project


class Container(models.Model):
    """A project's sandbox: a Docker container, or a bubblewrap workspace."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        STOPPED = "stopped", _("stopped")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="containers")
    backend = models.CharField(_("backend"), max_length=16)
    backend_id = models.CharField(_("backend id"), max_length=128, blank=True)
    image = models.CharField(_("image"), max_length=200, blank=True)
    labels = models.JSONField(_("labels"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)

    class Meta:
        verbose_name = _("container")
        verbose_name_plural = _("containers")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.backend}:{self.backend_id or self.pk}"


class ExecutionLog(WriteOnceMixin, models.Model):
    """One command run in a sandbox (append-only): what ran, what it said, how it ended."""

    write_once_reason = "Execution logs are append-only."

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="execution_logs")
    container = models.ForeignKey(
        Container, on_delete=models.SET_NULL, null=True, blank=True, related_name="logs"
    )
    run_id = models.UUIDField(_("run"), null=True, blank=True, db_index=True)
    command = models.TextField(_("command"))
    stdout = models.TextField(_("output"), blank=True)
    stderr = models.TextField(_("errors"), blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration, ms"), default=0)
    timed_out = models.BooleanField(_("timed out"), default=False)
    truncated = models.BooleanField(_("output truncated"), default=False)
    # Its worker died while it ran: the output is what reached the page until then.
    interrupted = models.BooleanField(_("interrupted"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("execution log")
        verbose_name_plural = _("execution logs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.command[:60]} → {self.exit_code}"
