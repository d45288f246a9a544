from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("projects/new/", views.project_create_view, name="create"),
    path("projects/<uuid:project_id>/delete/", views.project_delete_view, name="delete"),
]
