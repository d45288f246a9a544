from django.urls import path

from projects import api

urlpatterns = [
    path("projects", api.ProjectListAPI.as_view(), name="api-projects"),
    path("projects/<uuid:project_id>", api.ProjectDetailAPI.as_view(), name="api-project"),
    path("projects/<uuid:project_id>/states", api.StateListAPI.as_view(), name="api-states"),
    path(
        "projects/<uuid:project_id>/states/<int:step>",
        api.StateDetailAPI.as_view(),
        name="api-state",
    ),
]
