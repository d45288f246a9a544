from django.urls import path

from preview import api

urlpatterns = [
    path("projects/<uuid:project_id>/preview", api.ProjectPreviewAPI.as_view(), name="api-preview"),
]
