from django.urls import path

from files import api as files_api

# The more specific file routes come first: "<path>/history" would otherwise be read
# as a file named "history".
urlpatterns = [
    path(
        "projects/<uuid:project_id>/branches",
        files_api.BranchListAPI.as_view(),
        name="api-branches",
    ),
    path("projects/<uuid:project_id>/files", files_api.FileTreeAPI.as_view(), name="api-files"),
    path(
        "projects/<uuid:project_id>/files/<path:path>/history",
        files_api.FileHistoryAPI.as_view(),
        name="api-file-history",
    ),
    path(
        "projects/<uuid:project_id>/files/<path:path>/diff",
        files_api.FileDiffAPI.as_view(),
        name="api-file-diff",
    ),
    path(
        "projects/<uuid:project_id>/files/<path:path>",
        files_api.FileContentAPI.as_view(),
        name="api-file",
    ),
    path(
        "projects/<uuid:project_id>/download", files_api.DownloadAPI.as_view(), name="api-download"
    ),
]
