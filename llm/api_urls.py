from django.urls import path

from llm import api

urlpatterns = [
    path("usage", api.UsageAPI.as_view(), name="api-usage"),
]
