from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register_view, name="register"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/settings/", views.settings_view, name="settings"),
    path("accounts/password/", views.password_change_view, name="password-change"),
    path("accounts/password/reset/", views.password_reset_view, name="password-reset"),
    path(
        "accounts/password/reset/sent/",
        views.password_reset_done_view,
        name="password-reset-done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.password_reset_confirm_view,
        name="password-reset-confirm",
    ),
    path(
        "accounts/password/reset/done/",
        views.password_reset_complete_view,
        name="password-reset-complete",
    ),
    path("accounts/keys/<str:provider>/revoke/", views.key_revoke_view, name="key-revoke"),
    path("language/", views.language_view, name="language"),
]
