"""A preview: one generated web app running in its sandbox, reached on its own origin."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from projects.models import Branch, Project, ProjectState


class Preview(models.Model):
    class Status(models.TextChoices):
        STARTING = "starting", _("Starting")
        RUNNING = "running", _("Running")
        STOPPED = "stopped", _("Stopped")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.STARTING, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="previews")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="previews"
    )
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    # The step whose files run; a preview of the latest step follows the branch (it
    # restarts on the files a run commits), one of a chosen step stays on it.
    state = models.ForeignKey(ProjectState, on_delete=models.CASCADE, related_name="+")
    follows_branch = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTING)
    # Why it stopped or failed: a language-neutral code and its parameters (preview.reasons).
    reason_code = models.CharField(max_length=32, blank=True)
    reason_params = models.JSONField(default=dict, blank=True)
    run_command = models.CharField(max_length=500, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    output_tail = models.TextField(blank=True)  # the app's last lines, kept when it stops
    restarts = models.PositiveIntegerField(default=0)
    stop_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=255, blank=True)  # host:pid of the supervisor
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_request_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("preview")
        verbose_name_plural = _("previews")
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["starting", "running"]),
                name="one_active_preview_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project} · {self.status}"

    @property
    def active(self) -> bool:
        return self.status in self.ACTIVE
