from django.contrib import admin

from projects.models import Branch, Project, ProjectEvent, ProjectState


class ReadOnlyAdminMixin:
    """States, events and file rows are immutable history: admins look, never edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class BranchInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Branch
    fields = readonly_fields = ("name", "parent", "forked_at_step", "created_at")
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "folder_name", "created_at"]
    search_fields = ["name", "owner__email", "folder_name"]
    list_select_related = ["owner"]
    readonly_fields = ["id", "owner", "folder_name", "created_at"]
    fields = ["id", "owner", "name", "description", "folder_name", "created_at"]
    inlines = [BranchInline]

    def has_add_permission(self, request) -> bool:
        return False  # projects are created through the service, with branch and state 0


@admin.register(ProjectState)
class ProjectStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["branch", "step_index", "is_checkpoint", "created_at"]
    list_filter = ["is_checkpoint"]
    search_fields = ["branch__project__name"]
    list_select_related = ["branch"]
    readonly_fields = ["branch", "step_index", "is_checkpoint", "data", "created_at"]


@admin.register(ProjectEvent)
class ProjectEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "name", "project"]
    list_filter = ["name"]
    readonly_fields = ["created_at", "name", "project", "payload"]
