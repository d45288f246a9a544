import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.events import EventRecord
from core.immutable import WriteOnceMixin
from projects.labels import label_text


class Project(models.Model):
    """A user's project (invariant 5: it belongs to exactly one user)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), max_length=20_000, blank=True)
    # Generated from the name, unique per owner, never edited by a user (invariant 6).
    folder_name = models.SlugField(_("folder name"), max_length=100, editable=False)
    # Per-run guards; empty means the defaults in settings (SAMOKODER_RUN_MAX_*).
    max_run_cost = models.DecimalField(
        _("budget per run, USD"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    max_run_llm_calls = models.PositiveIntegerField(_("LLM calls per run"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "folder_name"], name="projects_folder_name_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    """A line of states; a branch made from another starts at its parent's step."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="branches")
    name = models.CharField(_("name"), max_length=64)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    forked_at_step = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="projects_branch_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectState(WriteOnceMixin, models.Model):
    """One immutable snapshot per step (invariant 8): a new step is a new row.

    ``data`` holds the typed pipeline state (iterations, epics, tasks, steps); the files
    of the step are ``files.StateFile`` rows: every path at a checkpoint, otherwise only
    what changed since the previous step, so storage grows with changes (files.services
    decides which steps are checkpoints).
    """

    write_once_reason = "A project state is immutable; commit a new step instead."

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="states")
    step_index = models.PositiveIntegerField(_("step"))
    data = models.JSONField(default=dict)
    is_checkpoint = models.BooleanField(default=False)
    # What the step did (projects.labels), set when the step is created like the rest.
    label_code = models.CharField(_("label"), max_length=32, blank=True)
    label_params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("project state")
        verbose_name_plural = _("project states")
        ordering = ["branch", "step_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["branch", "step_index"], name="projects_state_step_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.branch} #{self.step_index}"

    @property
    def label(self) -> str:
        """What the step did, in the active language ("Spec written", "Wrote app.py")."""
        return label_text(self.label_code, self.label_params, self.step_index)

    def delete(self, *args, **kwargs):
        raise ValueError("A single project state cannot be deleted; delete the project.")


class ProjectEvent(EventRecord):
    """The Project Management context's event log (ProjectCreated, FileUpdated, …)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")

    class Meta(EventRecord.Meta):
        verbose_name = _("project event")
        verbose_name_plural = _("project events")
