"""The preview origin's ASGI entry (preview.gateway), served apart from the platform's."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samokoder_site.settings")
django.setup()

from preview.gateway import application  # noqa: E402 - after django.setup()

__all__ = ["application"]
