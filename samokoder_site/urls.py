from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.ratelimit import rate_limit
from samokoder_site import health, pages

# The admin's log-in is limited like the site's own (invariant 13); it comes first so it
# answers /admin/login/ in place of the admin's unlimited one.
admin_login = rate_limit(group="auth.admin", rate="RATELIMIT_AUTH")(admin.site.login)

handler404 = "samokoder_site.pages.page_not_found"
handler500 = "samokoder_site.pages.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("favicon.ico", pages.favicon),
    path("api/v1/", pages.APIRootView.as_view(), name="api-root"),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("projects.api_urls")),
    path("api/v1/", include("files.api_urls")),
    path("api/v1/", include("llm.api_urls")),
    path("api/v1/", include("generation.api_urls")),
    path("api/v1/", include("preview.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("accounts.urls")),
    path("", include("projects.urls")),
    path("", include("files.urls")),
    path("", include("generation.urls")),
    path("", include("preview.urls")),
    path("", include("llm.urls")),
]
