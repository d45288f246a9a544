from django.urls import path

from generation import api

urlpatterns = [
    path("projects/<uuid:project_id>/runs", api.ProjectRunsAPI.as_view(), name="api-runs"),
    path("runs/<uuid:run_id>", api.RunDetailAPI.as_view(), name="api-run"),
    path("runs/<uuid:run_id>/cancel", api.RunCancelAPI.as_view(), name="api-run-cancel"),
    path("runs/<uuid:run_id>/answer", api.RunAnswerAPI.as_view(), name="api-run-answer"),
    path("runs/<uuid:run_id>/events", api.RunEventsAPI.as_view(), name="api-run-events"),
]
