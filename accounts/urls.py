from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register_view, name="register"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/settings/", views.settings_view, name="settings"),
    path("accounts/keys/<str:provider>/revoke/", views.key_revoke_view, name="key-revoke"),
    path("language/", views.language_view, name="language"),
]
