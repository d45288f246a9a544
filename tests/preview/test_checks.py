"""`manage.py check` refuses a preview origin that shares a site with the platform."""

import pytest

from preview.checks import preview_origin_apart


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        (["localhost", "127.0.0.1"], "http://preview.localhost:8001", []),
        (["example.com"], "https://example-preview.net", []),
        (["app.example.com"], "https://preview.app.example.com", ["preview.E002"]),
        (["example.com"], "https://p.example.com", ["preview.E002"]),
        ([".example.com"], "https://preview.example.com", ["preview.E002"]),
        (["app.example.com"], "https://preview.example.com", ["preview.E003"]),
        (["*"], "https://preview.example.com", []),
        (["localhost"], "http://:8001", ["preview.E001"]),
    ],
)
def test_the_preview_origin_must_be_a_site_of_its_own(settings, allowed, origin, expected):
    settings.ALLOWED_HOSTS, settings.SAMOKODER_PREVIEW_ORIGIN = allowed, origin
    assert [message.id for message in preview_origin_apart()] == expected
