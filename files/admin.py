from django.contrib import admin

from files.models import File, FileContent
from projects.admin import ReadOnlyAdminMixin


@admin.register(File)
class FileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["path", "project", "created_at"]
    search_fields = ["path", "project__name"]
    list_select_related = ["project"]
    readonly_fields = ["project", "path", "created_at"]


@admin.register(FileContent)
class FileContentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["hash", "size", "created_at"]
    search_fields = ["hash"]
    readonly_fields = ["hash", "size", "text", "created_at"]
