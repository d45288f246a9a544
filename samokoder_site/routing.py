"""WebSocket routes (the ASGI router's ``websocket`` branch)."""

from django.urls import URLPattern, path

from generation.consumers import ProjectConsumer

# Channels routes with Django's path(), whose stub knows views only.
websocket_urlpatterns: list[URLPattern] = [
    path("ws/projects/<uuid:project_id>/", ProjectConsumer.as_asgi()),  # type: ignore[arg-type]
]
