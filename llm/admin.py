from django.contrib import admin
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from core.admin_display import money_column
from llm.accounting import prices_forget
from llm.capabilities import modes_forget
from llm.errors import stored_error_text
from llm.models import LLMRequest, ModelCapability, ModelPrice, TokenUsage
from projects.admin import ReadOnlyAdminMixin


@admin.register(LLMRequest)
class LLMRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only log; the change list shows token and cost totals of what is filtered."""

    cost_usd = money_column("cost", _("cost, USD"))
    list_display = [
        "created_at",
        "user",
        "project",
        "agent",
        "provider",
        "model",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
    ]
    list_filter = [
        "status",
        "provider",
        "model",
        "agent",
        "key_source",
        ("user", admin.RelatedOnlyFieldListFilter),
        ("project", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__email", "project__name", "model"]
    list_select_related = ["user", "project"]
    readonly_fields = [*(f.name for f in LLMRequest._meta.fields), "error_message"]
    date_hierarchy = "created_at"

    @admin.display(description=_("error message"))
    def error_message(self, obj: LLMRequest) -> str:
        """The stored error (a code and parameters) in the reader's language."""
        return stored_error_text(obj.error) if obj.error else ""

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # A redirect (an action, a bad filter) has no context to add to.
        context = response.context_data if isinstance(response, TemplateResponse) else None
        changelist = context.get("cl") if context is not None else None
        if context is not None and changelist is not None:
            context["totals"] = changelist.queryset.aggregate(
                requests=Count("id"),
                prompt_tokens=Sum("prompt_tokens"),
                completion_tokens=Sum("completion_tokens"),
                cost=Sum("cost"),
            )
        return response


class ForgetsCachedRows(admin.ModelAdmin):
    """An edit here is seen by this process's next request at once, not after the cache's
    few seconds (other processes wait for those)."""

    def forget(self) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.forget()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self.forget()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        self.forget()


@admin.register(ModelCapability)
class ModelCapabilityAdmin(ForgetsCachedRows):
    def forget(self) -> None:
        modes_forget()

    list_display = ["provider", "model", "structured_mode", "learned", "updated_at"]
    list_editable = ["structured_mode"]
    list_filter = ["provider", "structured_mode", "learned"]
    search_fields = ["model"]


@admin.register(ModelPrice)
class ModelPriceAdmin(ForgetsCachedRows):
    def forget(self) -> None:
        prices_forget()

    list_display = ["provider", "model", "input_per_million", "output_per_million", "updated_at"]
    list_editable = ["input_per_million", "output_per_million"]
    list_filter = ["provider"]
    search_fields = ["model"]


@admin.register(TokenUsage)
class TokenUsageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    cost_usd = money_column("cost", _("cost, USD"))
    list_display = [
        "day",
        "user",
        "provider",
        "model",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
    ]
    list_filter = ["provider", "model"]
    search_fields = ["user__email"]
    date_hierarchy = "day"
    list_select_related = ["user"]
