from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register", api.RegisterAPI.as_view(), name="api-register"),
    path("auth/token", api.TokenAPI.as_view(), name="api-token"),
    path("me", api.MeAPI.as_view(), name="api-me"),
    path("keys", api.KeyListAPI.as_view(), name="api-keys"),
    path("keys/<str:provider>", api.KeyDetailAPI.as_view(), name="api-key-detail"),
]
