from django.urls import path

from files import views

app_name = "files"

urlpatterns = [
    path("projects/<uuid:project_id>/", views.project_view, name="project"),
    path("projects/<uuid:project_id>/branches/", views.branch_fork_view, name="fork"),
    path("projects/<uuid:project_id>/files/<path:path>", views.file_view, name="file"),
    path("projects/<uuid:project_id>/diff/<path:path>", views.diff_view, name="diff"),
]
