from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreviewConfig(AppConfig):
    name = "preview"
    verbose_name = _("Previews")

    def ready(self) -> None:
        from preview import checks  # noqa: F401 - registers the origin check
