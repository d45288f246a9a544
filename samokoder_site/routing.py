"""WebSocket routes; each app that streams to the browser adds its consumers here."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
