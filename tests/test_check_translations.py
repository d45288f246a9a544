"""scripts/check_translations.py, run as a subprocess on small trees built under tmp_path.

The real tree is never checked here: its catalogue is work in progress, and these tests
must only fail when the checker itself is wrong.
"""

import subprocess
import sys
from pathlib import Path

import polib
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "scripts/check_translations.py"
CATALOGUE = "locale/ru/LC_MESSAGES/django.po"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Override the root conftest's Redis clean-up: these tests touch no cache."""
    yield


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_catalogue(root: Path, *entries: polib.POEntry) -> None:
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "ru"}
    for entry in entries or (polib.POEntry(msgid="Log in", msgstr="Войти"),):
        catalogue.append(entry)
    path = root / CATALOGUE
    path.parent.mkdir(parents=True, exist_ok=True)
    catalogue.save(str(path))


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, "--root", str(root)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def assert_flagged(result: subprocess.CompletedProcess[str], location: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(line.startswith(location) for line in result.stdout.splitlines()), result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project that passes: one marked template, one marked form, a full catalogue."""
    write(
        tmp_path,
        "templates/x.html",
        '{% load i18n %}\n<h1>{% translate "Log in" %}</h1>\n<p>Samokoder · OpenAI</p>\n',
    )
    write(
        tmp_path,
        "accounts/forms.py",
        'from django.utils.translation import gettext_lazy as _\nLABEL = _("Log in")\n',
    )
    write_catalogue(tmp_path)
    return tmp_path


def test_clean_tree_passes(tree: Path) -> None:
    assert_clean(run_check(tree))


def test_unmarked_template_text_fails(tree: Path) -> None:
    write(tree, "templates/x.html", "{% load i18n %}\n<section>\n  <p>Bad thing</p>\n</section>\n")
    result = run_check(tree)
    assert_flagged(result, "templates/x.html:3:")
    assert "Bad thing" in result.stdout


def test_template_text_in_translate_passes(tree: Path) -> None:
    write(
        tree,
        "templates/x.html",
        '{% load i18n %}\n<section>\n  <p>{% translate "Bad thing" %}</p>\n</section>\n',
    )
    assert_clean(run_check(tree))


def test_blocktranslate_and_comments_pass(tree: Path) -> None:
    write(
        tree,
        "templates/x.html",
        "{% load i18n %}<!-- Layout note -->\n"
        "{% blocktranslate count n=2 %}One file{% plural %}{{ n }} files{% endblocktranslate %}\n"
        "{% comment %}Reviewer note{% endcomment %}{# another #}\n"
        "<script>const label = 'Ready';</script>&nbsp;&amp;\n",
    )
    assert_clean(run_check(tree))


def test_cyrillic_template_text_fails(tree: Path) -> None:
    write(tree, "templates/x.html", "<p>Привет</p>\n")
    assert_flagged(run_check(tree), "templates/x.html:1:")


def test_unmarked_attribute_fails(tree: Path) -> None:
    write(
        tree,
        "templates/x.html",
        "{% load i18n %}\n"
        '<input placeholder="{% translate \'Search\' %}" data-title="slug">\n'
        '<button aria-label="Close {{ name }}">&times;</button>\n',
    )
    result = run_check(tree)
    assert_flagged(result, "templates/x.html:3:")
    assert len(result.stdout.splitlines()) == 1, result.stdout


def test_unmarked_validation_error_fails(tree: Path) -> None:
    write(
        tree,
        "accounts/forms.py",
        "from django.core.exceptions import ValidationError\n\n"
        'raise ValidationError("Bad thing")\n',
    )
    result = run_check(tree)
    assert_flagged(result, "accounts/forms.py:3:")
    assert "Bad thing" in result.stdout


def test_marked_validation_error_passes(tree: Path) -> None:
    write(
        tree,
        "accounts/forms.py",
        "from django.core.exceptions import ValidationError\n"
        "from django.utils.translation import gettext as _\n\n"
        'raise ValidationError(_("Bad thing"))\n',
    )
    assert_clean(run_check(tree))


def test_unmarked_string_in_error_dict_fails(tree: Path) -> None:
    write(
        tree,
        "accounts/forms.py",
        "from django import forms\n\n"
        'raise forms.ValidationError({"email": [_("Taken."), "Bad thing"]})\n',
    )
    assert_flagged(run_check(tree), "accounts/forms.py:3:")


def test_unmarked_verbose_name_fails(tree: Path) -> None:
    write(
        tree,
        "accounts/models.py",
        "from django.db import models\n\n\nclass Thing(models.Model):\n"
        '    name = models.CharField(max_length=10, verbose_name="Thing")\n',
    )
    assert_flagged(run_check(tree), "accounts/models.py:5:")


def test_unmarked_message_fails(tree: Path) -> None:
    write(
        tree,
        "accounts/views.py",
        'from django.contrib import messages\n\nmessages.success(request, "Saved.")\n',
    )
    assert_flagged(run_check(tree), "accounts/views.py:3:")


def test_ignore_marker_and_skipped_dirs_pass(tree: Path) -> None:
    write(tree, "accounts/views.py", 'raise Http404("debug only")  # i18n: ignore\n')
    write(tree, "accounts/migrations/0001_initial.py", 'X = dict(verbose_name="Thing")\n')
    write(tree, "accounts/tests/test_x.py", 'raise ValidationError("Bad thing")\n')
    assert_clean(run_check(tree))


def test_fuzzy_ru_entry_fails(tree: Path) -> None:
    write_catalogue(tree, polib.POEntry(msgid="Log in", msgstr="Войти", flags=["fuzzy"]))
    result = run_check(tree)
    assert_flagged(result, f"{CATALOGUE}:")
    assert "fuzzy" in result.stdout


def test_untranslated_ru_entry_fails(tree: Path) -> None:
    write_catalogue(
        tree,
        polib.POEntry(msgid="Log in", msgstr="Войти"),
        polib.POEntry(msgid="Log out", msgstr=""),
    )
    result = run_check(tree)
    assert_flagged(result, f"{CATALOGUE}:")
    assert '"Log out"' in result.stdout


def test_missing_plural_form_fails(tree: Path) -> None:
    write_catalogue(
        tree,
        polib.POEntry(
            msgid="%(n)d key",
            msgid_plural="%(n)d keys",
            msgstr_plural={0: "%(n)d ключ", 1: "", 2: "%(n)d ключей"},
        ),
    )
    assert_flagged(run_check(tree), f"{CATALOGUE}:")


def test_obsolete_ru_entry_is_ignored(tree: Path) -> None:
    write_catalogue(
        tree,
        polib.POEntry(msgid="Log in", msgstr="Войти"),
        polib.POEntry(msgid="Gone", msgstr="", obsolete=True),
    )
    assert_clean(run_check(tree))


def test_missing_catalogue_fails(tree: Path) -> None:
    (tree / CATALOGUE).unlink()
    assert_flagged(run_check(tree), f"{CATALOGUE}:1:")


def test_formatted_literal_fails(tree: Path) -> None:
    write(
        tree,
        "accounts/api.py",
        "from rest_framework.exceptions import NotFound\n\n"
        'raise NotFound(_("No {name}.").format(name=name))\n'
        'raise NotFound("No {name}.".format(name=name))\n'
        'raise NotFound(detail=f"No {name}.")\n',
    )
    result = run_check(tree)
    assert [line.split(":")[1] for line in result.stdout.splitlines()] == ["4", "5"], result.stdout
    assert result.returncode == 1
