from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from preview import reasons
from preview.models import Preview
from preview.services import preview_stop
from projects.admin import ReadOnlyAdminMixin


@admin.register(Preview)
class PreviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "owner", "status", "reason", "created_at", "last_request_at"]
    list_filter = ["status"]
    search_fields = ["project__name", "owner__email"]
    list_select_related = ["project", "owner"]
    readonly_fields = [f.name for f in Preview._meta.fields]
    actions = ["stop"]

    @admin.display(description=_("why it ended"))
    def reason(self, preview: Preview) -> str:
        return reasons.reason_text(preview.reason_code, preview.reason_params)

    @admin.action(description=_("Stop selected previews"))
    def stop(self, request, queryset) -> None:
        running = queryset.filter(status__in=Preview.ACTIVE)
        count = 0
        for preview in running:
            preview_stop(preview=preview)
            count += 1
        message = ngettext("%(count)d preview stopped.", "%(count)d previews stopped.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)
