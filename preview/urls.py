from django.urls import path

from preview import views

app_name = "preview"
urlpatterns = [
    path("projects/<uuid:project_id>/preview/", views.panel_view, name="panel"),
    path("projects/<uuid:project_id>/preview/start/", views.start_view, name="start"),
    path("projects/<uuid:project_id>/preview/stop/", views.stop_view, name="stop"),
    path("projects/<uuid:project_id>/preview/restart/", views.restart_view, name="restart"),
]
