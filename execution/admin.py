from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from execution.models import Container, ExecutionLog
from execution.services import container_stop
from projects.admin import ReadOnlyAdminMixin


@admin.register(Container)
class ContainerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "project", "backend", "status", "created_at", "age"]
    list_filter = ["status", "backend"]
    search_fields = ["project__name", "backend_id"]
    list_select_related = ["project"]
    readonly_fields = [f.name for f in Container._meta.fields]
    actions = ["stop"]

    @admin.display(description=_("age"))
    def age(self, container: Container) -> str:
        return str(timezone.now() - container.created_at).split(".")[0]

    @admin.action(description=_("Stop selected containers"))
    def stop(self, request, queryset) -> None:
        running = queryset.filter(status=Container.Status.RUNNING).select_related("project")
        count = 0
        for container in running:
            container_stop(container=container, reason="stopped by an administrator")
            count += 1
        message = ngettext("%(count)d container stopped.", "%(count)d containers stopped.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(ExecutionLog)
class ExecutionLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "project", "command", "exit_code", "duration_ms", "timed_out"]
    list_filter = ["timed_out", "truncated"]
    search_fields = ["project__name", "command"]
    list_select_related = ["project"]
    readonly_fields = [f.name for f in ExecutionLog._meta.fields]
