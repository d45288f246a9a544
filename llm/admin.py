from django.contrib import admin
from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from llm.models import LLMRequest, ModelCapability, ModelPrice, TokenUsage
from projects.admin import ReadOnlyAdminMixin
from samokoder_site.admin_display import money_column


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
    readonly_fields = [f.name for f in LLMRequest._meta.fields]
    date_hierarchy = "created_at"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["totals"] = changelist.queryset.aggregate(
                requests=Count("id"),
                prompt_tokens=Sum("prompt_tokens"),
                completion_tokens=Sum("completion_tokens"),
                cost=Sum("cost"),
            )
        return response


@admin.register(ModelCapability)
class ModelCapabilityAdmin(admin.ModelAdmin):
    list_display = ["provider", "model", "structured_mode", "learned", "updated_at"]
    list_editable = ["structured_mode"]
    list_filter = ["provider", "structured_mode", "learned"]
    search_fields = ["model"]


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
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
