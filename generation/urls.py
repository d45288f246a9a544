from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    path("projects/<uuid:project_id>/generation/", views.panel_view, name="panel"),
    path("projects/<uuid:project_id>/generation/start/", views.run_start_view, name="start"),
    path(
        "projects/<uuid:project_id>/runs/<uuid:run_id>/answer/",
        views.run_answer_view,
        name="answer",
    ),
    path(
        "projects/<uuid:project_id>/runs/<uuid:run_id>/cancel/",
        views.run_cancel_view,
        name="cancel",
    ),
]
