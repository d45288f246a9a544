import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.events import EventRecord
from generation.reasons import reason_text
from projects.models import Branch, Project


class Stage(models.TextChoices):
    """The six stages, in the order the orchestrator runs them (invariant 9)."""

    SPECIFICATION = "specification", _("Specification")
    ARCHITECTURE = "architecture", _("Architecture")
    TASKS = "tasks", _("Task breakdown")
    DEVELOPMENT = "development", _("Development")
    EXECUTION = "execution", _("Execution")
    DEBUGGING = "debugging", _("Debugging")


class GenerationRun(models.Model):
    """One generation (or one iteration of changes) on a branch: a job row with state.

    Status changes are the methods below; the pipeline's own progress lives in the
    committed ProjectStates, so a run can be resumed from the database alone.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        AWAITING_INPUT = "awaiting_input", _("awaiting your answer")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.AWAITING_INPUT)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs"
    )
    provider = models.CharField(_("provider"), max_length=32)
    model = models.CharField(_("model"), max_length=128, blank=True)
    iteration = models.PositiveIntegerField(_("iteration"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress, %"), default=0)
    question = models.TextField(_("question"), blank=True)
    reason_code = models.CharField(_("stop reason"), max_length=32, blank=True)
    reason_params = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)  # technical detail, for the admin
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    cost = models.DecimalField(_("cost, USD"), max_digits=12, decimal_places=6, default=0)
    llm_calls = models.PositiveIntegerField(_("LLM calls"), default=0)
    max_cost = models.DecimalField(_("budget, USD"), max_digits=12, decimal_places=6)
    max_llm_calls = models.PositiveIntegerField(_("budget, LLM calls"))
    last_seq = models.PositiveIntegerField(default=0)
    lease = models.UUIDField(null=True, blank=True)  # the worker currently driving the run
    worker = models.CharField(max_length=128, blank=True)  # "host:pid" of that worker
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    clock_started_at = models.DateTimeField(null=True, blank=True)  # wall-clock guard
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("generation run")
        verbose_name_plural = _("generation runs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running", "awaiting_input"]),
                name="generation_one_active_run_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} · {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def reason(self) -> str:
        """Why the run stopped, in the active language ("" while it has not)."""
        return reason_text(self.reason_code, self.reason_params)

    def finish(self, status: str, *, code: str = "", params: dict | None = None) -> None:
        self.status = status
        self.reason_code, self.reason_params = code, params or {}
        self.finished_at = timezone.now()
        self.lease = None
        if status == self.Status.COMPLETED:
            self.progress = 100

    def add_usage(self, *, prompt: int, completion: int, cost: Decimal, calls: int) -> None:
        self.prompt_tokens, self.completion_tokens = prompt, completion
        self.cost, self.llm_calls = cost, calls


class PipelineEvent(EventRecord):
    """The per-run event log: ``seq`` orders a run's events for replay to browsers."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="events")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pipeline_events")
    seq = models.PositiveIntegerField()

    class Meta(EventRecord.Meta):
        verbose_name = _("pipeline event")
        verbose_name_plural = _("pipeline events")
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="generation_event_seq_unique"),
        ]

    def message(self) -> dict:
        """What the browser and the API receive for this event."""
        return {
            "seq": self.seq,
            "run": str(self.run_id),
            "name": self.name,
            "payload": self.payload,
            "at": self.created_at.isoformat(),
        }
