"""files/paths.py: the path check every writer of project files goes through.

Pure functions and a tmp_path tree: no database, no Redis.
"""

import re
from pathlib import Path

import pytest
from django.utils import translation

from files.paths import UnsafePathError, path_normalise, path_within


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Override the root conftest's Redis clean-up: these tests touch no cache."""
    yield


HOSTILE = [
    ("../etc/passwd", "traversal"),
    ("a/../../b", "traversal"),
    ("..", "traversal"),
    ("src/..", "traversal"),
    ("/etc/passwd", "absolute"),
    ("/", "absolute"),
    ("C:\\Windows", "backslash"),
    ("\\\\server\\share", "backslash"),
    ("a\\..\\b", "backslash"),
    ("C:/x", "drive"),
    ("c:/", "drive"),
    ("C:", "drive"),
    ("//server/share", "drive"),
    ("a/b.txt:stream", "colon"),
    (".git::$INDEX_ALLOCATION/hooks/x", "colon"),
    ("a/./b", "dot_segment"),
    ("./a", "dot_segment"),
    (".", "dot_segment"),
    ("a//b", "empty_segment"),
    ("a/", "trailing_slash"),
    ("", "empty"),
    ("a\x00b", "control_character"),
    ("a\nb", "control_character"),
    ("a\tb", "control_character"),
    ("a\x7fb", "control_character"),
    ("\u202egnp.exe", "control_character"),
    ("a\u200bb", "control_character"),
    ("\ufeffREADME.md", "control_character"),
    ("a\u2028b", "control_character"),
    ("a\udc80b", "control_character"),
    ("\uff0e\uff0e/x", "confusable"),
    ("x/\u2025/y", "confusable"),
    ("\u2024\u2024/x", "confusable"),
    ("a\uff0fb", "confusable"),
    ("~/x", "home"),
    ("~root/.ssh/authorized_keys", "home"),
    ("~", "home"),
    ("a" * 300, "too_long"),
    ("x" * 101, "too_long"),
    ("\U0001f600" * 64, "too_long"),
    ("/".join(["d"] * 13), "too_deep"),
    ("CON", "reserved_name"),
    ("src/aux.py", "reserved_name"),
    ("nul.tar.gz", "reserved_name"),
    ("com1", "reserved_name"),
    ("docs/LPT9.md", "reserved_name"),
    ("con .txt", "reserved_name"),
    ("COM\u00b9", "reserved_name"),
    (".git/config", "reserved_name"),
    ("a/.git/hooks/x", "reserved_name"),
    (".GIT/config", "reserved_name"),
    ("GIT~1/config", "reserved_name"),
    ("a/.git", "reserved_name"),
    ("file. ", "whitespace"),
    (" leading", "whitespace"),
    ("a/ b", "whitespace"),
    ("trailing\u00a0", "whitespace"),
    ("file.", "trailing_dot"),
    ("...", "trailing_dot"),
    (".git.", "trailing_dot"),
    ("e\u0301.txt", "not_normalised"),
    (b"src/app.py", "not_text"),
    (None, "not_text"),
    (Path("src/app.py"), "not_text"),
]

# 255 characters, the default limit, in names short enough to pass on their own.
LONGEST = "/".join(["x" * 50] * 5) + "x"

ACCEPTED = [
    "src/app.py",
    "README.md",
    "a/b/c/d.txt",
    "тесты/файл.py",
    ".env.example",
    ".github/workflows/ci.yml",
    "%2e%2e/x",
    "dir.with.dots/x",
    ".gitignore",
    "git/x",
    "a/~b",
    "my file.txt",
    "console.log",
    "auxiliary.py",
    "COM10",
    "..hidden",
    "x" * 100,
    "/".join(["d"] * 12),
    LONGEST,
]


@pytest.mark.parametrize(("raw", "code"), HOSTILE, ids=[repr(raw)[:40] for raw, _ in HOSTILE])
def test_hostile_path_is_refused_with_its_code(raw, code):
    with pytest.raises(UnsafePathError) as caught:
        path_normalise(raw)

    assert caught.value.code == code
    assert caught.value.path is raw


def test_hostile_list_is_long_enough_and_distinct():
    assert len(HOSTILE) >= 30
    assert len({repr(raw) for raw, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted_path_comes_back_unchanged(raw):
    assert path_normalise(raw) == raw


def test_percent_encoding_is_a_literal_name_not_a_climb(tmp_path):
    root = tmp_path / "root"
    root.mkdir()

    target = path_within(root, "%2e%2e/x")

    assert target == root.resolve() / "%2e%2e" / "x"
    assert target.parent.name == "%2e%2e"


@pytest.mark.parametrize(("raw", "code"), HOSTILE, ids=[repr(raw)[:40] for raw, _ in HOSTILE])
def test_refusal_reads_as_a_sentence_with_an_ascii_code(raw, code):
    with translation.override("en"), pytest.raises(UnsafePathError) as caught:
        path_normalise(raw)

    message = str(caught.value)
    assert message.strip()
    assert message == caught.value.message
    for leak in ("Traceback", 'File "', "%(", "\n", "Error", "None"):
        assert leak not in message
    assert message.isprintable()
    assert re.fullmatch(r"[a-z_]+", caught.value.code)


def test_error_is_a_value_error_whose_repr_escapes_the_path():
    with pytest.raises(ValueError) as caught:
        path_normalise("\u202egnp.exe\x00" + "a" * 300)

    shown = repr(caught.value)
    assert shown.isprintable()
    assert "\u202e" not in shown
    assert shown.startswith("UnsafePathError(code='control_character', path='\\u202egnp.exe")
    assert len(shown) < 150


def test_limits_come_from_settings(settings):
    settings.SAMOKODER_MAX_PATH_LENGTH = 10
    settings.SAMOKODER_MAX_PATH_DEPTH = 2

    assert path_normalise("a/bcdefghi") == "a/bcdefghi"
    with pytest.raises(UnsafePathError, match="10") as too_long:
        path_normalise("a/bcdefghij")
    with pytest.raises(UnsafePathError, match="2") as too_deep:
        path_normalise("a/b/c")

    assert (too_long.value.code, too_deep.value.code) == ("too_long", "too_deep")


def test_limits_default_to_255_characters_and_12_levels(settings):
    del settings.SAMOKODER_MAX_PATH_LENGTH
    del settings.SAMOKODER_MAX_PATH_DEPTH
    assert len(LONGEST) == 255
    assert path_normalise(LONGEST) == LONGEST
    assert path_normalise("/".join("d" * 12)) == "/".join("d" * 12)
    with pytest.raises(UnsafePathError, match="255"):
        path_normalise(LONGEST + "x")
    with pytest.raises(UnsafePathError, match="12"):
        path_normalise("/".join("d" * 13))


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "workspace"
    (root / "src").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return root


def test_path_within_refuses_a_parent_symlinked_outside(root, tmp_path):
    (root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)

    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "link/x.txt")

    assert caught.value.code == "symlink_escape"


def test_path_within_refuses_a_dangling_symlink_to_outside(root, tmp_path):
    (root / "src" / "app.py").symlink_to(tmp_path / "outside" / "not-yet.py")

    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "src/app.py")

    assert caught.value.code == "symlink_escape"


def test_path_within_refuses_a_symlink_that_stays_inside(root):
    (root / "alias").symlink_to(root / "src", target_is_directory=True)

    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "alias/app.py")

    assert caught.value.code == "symlink"


def test_path_within_refuses_a_symlinked_file_inside(root):
    (root / "src" / "real.py").write_text("")
    (root / "src" / "app.py").symlink_to(root / "src" / "real.py")

    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "src/app.py")

    assert caught.value.code == "symlink"


def test_path_within_refuses_a_symlink_loop(root):
    (root / "loop").symlink_to(root / "loop")

    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "loop/x.txt")

    assert caught.value.code == "symlink"


def test_path_within_accepts_a_new_nested_path_and_creates_nothing(root):
    target = path_within(root, "src/new/deep/app.py")

    assert target == root.resolve() / "src" / "new" / "deep" / "app.py"
    assert not (root / "src" / "new").exists()


def test_path_within_follows_a_symlinked_root(root, tmp_path):
    (tmp_path / "root-link").symlink_to(root, target_is_directory=True)

    assert path_within(tmp_path / "root-link", "src/app.py") == root.resolve() / "src/app.py"


def test_path_within_normalises_first(root):
    with pytest.raises(UnsafePathError) as caught:
        path_within(root, "../outside/x.txt")

    assert caught.value.code == "traversal"
