from django.urls import path

from llm import views

app_name = "llm"
urlpatterns = [path("usage/", views.usage_view, name="usage")]
