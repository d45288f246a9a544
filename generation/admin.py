from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_display import money_column
from generation.display import event_detail
from generation.models import GenerationRun, PipelineEvent
from generation.services import RunConflict, run_cancel
from projects.admin import ReadOnlyAdminMixin


class PipelineEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PipelineEvent
    fields = readonly_fields = ("seq", "name", "shown", "payload", "created_at")
    ordering = ["seq"]
    extra = 0

    @admin.display(description=_("detail"))
    def shown(self, obj: PipelineEvent) -> str:
        """The event's detail as the timeline shows it, in the reader's language."""
        return event_detail(obj.name, obj.payload, obj.run)


@admin.register(GenerationRun)
class GenerationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    cost_usd = money_column("cost", _("cost, USD"))
    list_display = ["created_at", "project", "user", "status", "stage", "progress",
                    "llm_calls", "cost_usd", "reason_code"]  # fmt: skip
    list_filter = ["status", "stage", "provider"]
    search_fields = ["project__name", "user__email"]
    list_select_related = ["project", "user"]
    readonly_fields = [*(f.name for f in GenerationRun._meta.fields), "reason"]
    inlines = [PipelineEventInline]
    actions = ["cancel"]

    @admin.action(description=_("Cancel selected runs"))
    def cancel(self, request, queryset) -> None:
        count = 0
        for run in queryset.filter(status__in=GenerationRun.ACTIVE):
            try:
                run_cancel(run=run)
                count += 1
            except RunConflict:
                pass  # finished meanwhile
        message = ngettext("%(count)d run cancelled.", "%(count)d runs cancelled.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
