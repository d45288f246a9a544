"""WebSocket routes (the ASGI router's ``websocket`` branch)."""

from django.urls import URLPattern, path

from generation.consumers import ProjectConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/projects/<uuid:project_id>/", ProjectConsumer.as_asgi()),
]
