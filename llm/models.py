import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.immutable import WriteOnceMixin
from projects.models import Project


class LLMRequest(WriteOnceMixin, models.Model):
    """One call to a provider, failed ones too (invariant 15). Append-only.

    Prompts, responses and errors are stored with secrets masked (``llm.masking``).
    """

    write_once_reason = "LLM requests are append-only."

    class Status(models.TextChoices):
        SUCCESS = "success", _("success")
        ERROR = "error", _("error")
        RATE_LIMITED = "rate_limited", _("rate limited")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="llm_requests"
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="llm_requests"
    )
    run_id = models.UUIDField(_("run"), null=True, blank=True, db_index=True)
    agent = models.CharField(_("agent"), max_length=64)
    provider = models.CharField(_("provider"), max_length=32, db_index=True)
    model = models.CharField(_("model"), max_length=128, db_index=True)
    key_source = models.CharField(_("key"), max_length=8)  # "user" or "system"
    prompt = models.JSONField(_("prompt"), default=list)
    response = models.TextField(_("response"), blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    cost = models.DecimalField(
        _("cost, USD"),
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("Empty when the model has no price in the price table."),
    )
    latency_ms = models.PositiveIntegerField(_("latency, ms"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, db_index=True)
    error_type = models.CharField(_("error type"), max_length=32, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("LLM request")
        verbose_name_plural = _("LLM requests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.status}"


class ModelPrice(models.Model):
    """USD per million tokens, editable in admin; a model missing here costs "unknown"."""

    provider = models.CharField(_("provider"), max_length=32)
    model = models.CharField(_("model"), max_length=128)
    input_per_million = models.DecimalField(
        _("input, USD per 1M tokens"), max_digits=10, decimal_places=4
    )
    output_per_million = models.DecimalField(
        _("output, USD per 1M tokens"), max_digits=10, decimal_places=4
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("model price")
        verbose_name_plural = _("model prices")
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="llm_price_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class ModelCapability(models.Model):
    """How a model answers in a given shape (the structured-output mode), editable in admin.

    ``model`` "*" is the provider's row, for models not named. A row the gateway wrote after
    the provider refused a mode (400 "not supported") is marked ``learned``.
    """

    class StructuredMode(models.TextChoices):
        JSON_SCHEMA = "json_schema", _("JSON schema (response_format)")
        TOOL_USE = "tool_use", _("forced tool use")
        JSON_OBJECT = "json_object", _("JSON mode, schema in the prompt")

    provider = models.CharField(_("provider"), max_length=32)
    model = models.CharField(_("model"), max_length=128, help_text=_("“*”: any other model."))
    structured_mode = models.CharField(
        _("structured output"), max_length=16, choices=StructuredMode.choices
    )
    learned = models.BooleanField(
        _("learned"), default=False, help_text=_("Set when the provider refused another mode.")
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("model capability")
        verbose_name_plural = _("model capabilities")
        constraints = [
            models.UniqueConstraint(fields=["provider", "model"], name="llm_capability_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


class TokenUsage(models.Model):
    """Per user, day and model totals (RecordTokenUsage), kept as requests are recorded."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_usage"
    )
    day = models.DateField(_("day"))
    provider = models.CharField(_("provider"), max_length=32)
    model = models.CharField(_("model"), max_length=128)
    requests = models.PositiveIntegerField(_("requests"), default=0)
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    cost = models.DecimalField(_("cost, USD"), max_digits=14, decimal_places=6, default=0)
    unpriced_requests = models.PositiveIntegerField(_("requests without a price"), default=0)

    class Meta:
        verbose_name = _("token usage")
        verbose_name_plural = _("token usage")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "provider", "model"], name="llm_usage_per_user_day_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day} {self.model}"
