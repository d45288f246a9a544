"""Lint check: user-facing text that is not marked for translation, and gaps in the ru catalogue.

    python scripts/check_translations.py [--root DIR]

Samokoder ships in Russian by default, so an English string that slips past
``{% translate %}`` or ``gettext`` shows up untranslated in front of every user. This
check catches that before review rather than in the browser. It looks at:

1. Templates (``templates/**/*.html`` and ``<app>/templates/**/*.html``): text between
   HTML tags that contains a letter, outside ``{% blocktranslate %}`` and
   ``{% comment %}``, and the human-readable attributes in ``TRANSLATABLE_ATTRIBUTES``
   whose literal value contains a letter outside ``{{ }}``/``{% %}``.
2. Python modules of the app packages (``APP_PACKAGES``, minus migrations and tests):
   string literals handed straight to a user-facing sink (``CALL_SINKS``,
   ``ANY_CALL_KEYWORDS``, ``META_ATTRIBUTES``) instead of through ``_``/``gettext``/
   ``gettext_lazy``/``ngettext``/``pgettext`` (or their lazy forms). A literal still
   counts as direct inside a dict, list, f-string, ``%``, ``+``, ``.format()``,
   ``format_html()`` or ``mark_safe()``; a line carrying ``# i18n: ignore`` is exempt.
3. The ru catalogue (``locale/ru/LC_MESSAGES/django.po``): every live entry must be
   translated (all plural forms) and not fuzzy. Strings marked in code but missing from
   the catalogue are left to ``makemessages``.

Django itself is never set up: the template lexer and ``ast`` are enough, so the check
runs on a machine with no database, Redis or settings. Exit status is 0 when clean,
1 otherwise, with one ``path:line: message`` line per problem.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import polib
from django.template.base import Lexer, TokenType

# ---------------------------------------------------------------------------------------
# Configuration. Keep these short: every entry is a hole in the check.
# ---------------------------------------------------------------------------------------

# Words that read the same in every language, so they never need a translation.
ALLOWED_WORDS: tuple[str, ...] = (
    "Samokoder",  # the brand
    "OpenAI",  # provider names, shown as the providers spell them
    "Anthropic",
    "Groq",
    "••••",  # masked-key glyphs; letter-free anyway, listed so nobody wraps them
)

# Python packages whose modules are scanned; migrations and tests never face users.
APP_PACKAGES: tuple[str, ...] = (
    "accounts",
    "projects",
    "generation",
    "llm",
    "files",
    "execution",
    "samokoder_site",
)
SKIPPED_DIRS: frozenset[str] = frozenset({"migrations", "tests", "__pycache__"})

RU_CATALOGUE = Path("locale/ru/LC_MESSAGES/django.po")

# HTML attributes a user reads (or hears through a screen reader).
TRANSLATABLE_ATTRIBUTES: tuple[str, ...] = ("placeholder", "title", "alt", "aria-label")

# Calls that show their first argument unchanged, so a literal inside still needs marking.
TEXT_WRAPPERS: frozenset[str] = frozenset({"format_html", "mark_safe"})


class Sink(NamedTuple):
    """Where a call shows text to a user: a positional index and/or keyword names."""

    position: int | None
    keywords: tuple[str, ...] = ()


# Keyed by the callee's dotted name; a key also matches any longer dotted name ending in
# it, so "ValidationError" covers forms.ValidationError and serializers.ValidationError.
CALL_SINKS: dict[str, Sink] = {
    "ValidationError": Sink(0, ("message", "detail")),
    "AuthenticationFailed": Sink(0, ("detail",)),
    "NotFound": Sink(0, ("detail",)),
    "PermissionDenied": Sink(0, ("detail",)),
    "APIException": Sink(0, ("detail",)),
    "Http404": Sink(0),
    "messages.debug": Sink(1, ("message",)),
    "messages.info": Sink(1, ("message",)),
    "messages.success": Sink(1, ("message",)),
    "messages.warning": Sink(1, ("message",)),
    "messages.error": Sink(1, ("message",)),
    "messages.add_message": Sink(2, ("message",)),
    "message_user": Sink(1, ("message",)),  # ModelAdmin.message_user
    "admin.display": Sink(None, ("description",)),
    "admin.action": Sink(None, ("description",)),
}

# Keywords that are user-facing whatever the call (fields, forms, serializers).
ANY_CALL_KEYWORDS: tuple[str, ...] = (
    "verbose_name",
    "verbose_name_plural",
    "label",
    "help_text",
    "error_messages",
)

# The same names assigned in a model's ``class Meta`` reach the admin just the same.
META_ATTRIBUTES: frozenset[str] = frozenset({"verbose_name", "verbose_name_plural"})

IGNORE_MARKER = "# i18n: ignore"

# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------

_ALLOWED_RE = re.compile("|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in ALLOWED_WORDS))


class Problem(NamedTuple):
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def first_letter(text: str) -> int | None:
    """Index of the first letter that is not part of an allowed word, if any."""
    text = _ALLOWED_RE.sub(lambda m: " " * len(m.group()), text)
    return next((i for i, char in enumerate(text) if char.isalpha()), None)


def snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# ---------------------------------------------------------------------------------------
# 1. Templates
# ---------------------------------------------------------------------------------------

# Stand-ins for template tags in the masked text. A block/comment tag ends a run of
# text; a variable sits inside one ("Hello {{ name }}!" is a single sentence).
BREAK = "\x00"
VARIABLE = "\x01"

_MASKED_BLOCKS: dict[str, str] = {
    "blocktranslate": "endblocktranslate",
    "blocktrans": "endblocktrans",
    "comment": "endcomment",
}

_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_RAW_TEXT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
# Quoted attribute values may contain ">", so they are consumed whole.
_TAG_RE = re.compile(r"""<[a-zA-Z!/?][^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*>""")
_ATTRIBUTE_RE = re.compile(
    r"(?<![\w-])(?P<name>" + "|".join(map(re.escape, TRANSLATABLE_ATTRIBUTES)) + r")"
    r"""\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>"']+))""",
    re.IGNORECASE,
)
_ENTITY_RE = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);")


def blank(text: str, fill: str) -> str:
    """Overwrite text while keeping its length and newlines, so offsets map to lines."""
    return "".join(char if char == "\n" else fill for char in text)


def mask_template(source: str) -> str:
    """The template with every tag, and all text that needs no marking, blanked out.

    Tags never span lines in Django's lexer, so replacing each by one character keeps
    the line structure of the source intact.
    """
    pieces: list[str] = []
    closing: str | None = None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.TEXT:
            pieces.append(token.contents if closing is None else blank(token.contents, " "))
            continue
        if token.token_type == TokenType.VAR and closing is None:
            pieces.append(VARIABLE)
            continue
        pieces.append(BREAK)
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split(" ", 1)[0]
            if closing is None:
                closing = _MASKED_BLOCKS.get(name)
            elif name == closing:
                closing = None
    return "".join(pieces)


def line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def attribute_problems(masked: str, tag: re.Match[str]) -> Iterator[tuple[int, str]]:
    for attribute in _ATTRIBUTE_RE.finditer(tag.group()):
        value = next(v for v in attribute.group("dq", "sq", "bare") if v is not None)
        if first_letter(value) is not None:
            offset = tag.start() + attribute.start()
            shown = snippet(value.replace(VARIABLE, "{{…}}").replace(BREAK, "{%…%}"))
            message = f'unmarked {attribute.group("name")} attribute "{shown}"'
            yield line_at(masked, offset), message


def text_problems(text: str) -> Iterator[tuple[int, str]]:
    for run in re.finditer(f"[^{BREAK}]+", text):
        index = first_letter(run.group())
        if index is not None:
            shown = snippet(run.group().replace(VARIABLE, "{{…}}"))
            yield line_at(text, run.start() + index), f'unmarked text "{shown}"'


def check_template_source(source: str) -> list[tuple[int, str]]:
    masked = mask_template(source)
    masked = _HTML_COMMENT_RE.sub(lambda m: blank(m.group(), BREAK), masked)
    # Script and style bodies are code, not prose.
    masked = _RAW_TEXT_RE.sub(lambda m: blank(m.group(), BREAK), masked)
    found: list[tuple[int, str]] = []
    for tag in _TAG_RE.finditer(masked):
        found.extend(attribute_problems(masked, tag))
    text = _TAG_RE.sub(lambda m: blank(m.group(), BREAK), masked)
    text = _ENTITY_RE.sub(lambda m: blank(m.group(), " "), text)
    found.extend(text_problems(text))
    return sorted(found)


def template_files(root: Path) -> Iterator[Path]:
    yield from sorted((root / "templates").glob("**/*.html"))
    for app in sorted(root.iterdir()):
        if app.is_dir() and not app.name.startswith(".") and app.name != "templates":
            yield from sorted((app / "templates").glob("**/*.html"))


def check_templates(root: Path) -> Iterator[Problem]:
    for path in template_files(root):
        source = path.read_text(encoding="utf-8")
        for line, message in check_template_source(source):
            yield Problem(relative(path, root), line, message)


# ---------------------------------------------------------------------------------------
# 2. Python modules
# ---------------------------------------------------------------------------------------


def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain; None for anything computed."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


def matching_sink(callee: str) -> tuple[str, Sink] | None:
    for key, sink in CALL_SINKS.items():
        if callee == key or callee.endswith("." + key):
            return key, sink
    return None


# Markup and interpolation placeholders carry letters but no prose: '<b>{}</b>' and
# '%(count)d' need no translation on their own.
_NON_PROSE_RE = re.compile(r"<[^<>]*>|\{[^{}]*\}|%\(\w+\)[a-z]|%[a-z]")


def has_prose(text: str) -> bool:
    return first_letter(_NON_PROSE_RE.sub(" ", text)) is not None


def unmarked_literals(node: ast.expr) -> Iterator[ast.expr]:
    """String literals inside an argument expression that reach the user unmarked."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str) and has_prose(node.value):
            yield node
    elif isinstance(node, ast.JoinedStr):
        # An f-string can never be looked up in a catalogue.
        if any(unmarked_literals(part) for part in node.values):
            yield node
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from unmarked_literals(value)
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for element in node.elts:
            yield from unmarked_literals(element)
    elif isinstance(node, ast.BinOp):
        yield from unmarked_literals(node.left)
        yield from unmarked_literals(node.right)
    elif isinstance(node, ast.IfExp):
        yield from unmarked_literals(node.body)
        yield from unmarked_literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from unmarked_literals(value)
    elif isinstance(node, ast.Call):
        yield from unmarked_in_call(node)


def unmarked_in_call(node: ast.Call) -> Iterator[ast.expr]:
    # "...".format(x) and format_html("...", x) still show the raw literal. Any other
    # call is trusted: gettext and friends are the point, and the rest (a lookup such as
    # errors.get("detail")) take keys, not prose, so flagging them would only be noise.
    name = (dotted_name(node.func) or "").rsplit(".", 1)[-1]
    if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        yield from unmarked_literals(node.func.value)
    elif name in TEXT_WRAPPERS and node.args:
        yield from unmarked_literals(node.args[0])


def sink_arguments(call: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    """(what the argument is, the argument) for every user-facing argument of a call."""
    callee = dotted_name(call.func) or ""
    match = matching_sink(callee)
    keywords = set(ANY_CALL_KEYWORDS)
    if match:
        key, sink = match
        if sink.position is not None and len(call.args) > sink.position:
            argument = call.args[sink.position]
            if not isinstance(argument, ast.Starred):
                yield key, argument
        keywords.update(sink.keywords)
    for keyword in call.keywords:
        if keyword.arg in keywords:
            yield f"{keyword.arg}=", keyword.value


def meta_arguments(node: ast.ClassDef) -> Iterator[tuple[int, str, ast.expr]]:
    if node.name != "Meta":
        return
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id in META_ATTRIBUTES:
                    yield statement.lineno, f"Meta.{target.id}", statement.value


def python_sinks(tree: ast.AST) -> Iterator[tuple[int, str, ast.expr]]:
    """(line of the sink, its description, the argument) across a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for what, argument in sink_arguments(node):
                yield node.lineno, what, argument
        elif isinstance(node, ast.ClassDef):
            yield from meta_arguments(node)


def is_ignored(lines: list[str], first: int, last: int) -> bool:
    return any(IGNORE_MARKER in lines[i - 1] for i in range(first, last + 1) if i <= len(lines))


def check_python_source(source: str) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        return [(error.lineno or 1, f"cannot parse: {error.msg}")]
    lines = source.splitlines()
    found: list[tuple[int, str]] = []
    for sink_line, what, argument in python_sinks(tree):
        for literal in unmarked_literals(argument):
            end = literal.end_lineno or literal.lineno
            # The marker may sit on the literal's own line(s) or on the sink's first line.
            if is_ignored(lines, literal.lineno, end) or is_ignored(lines, sink_line, sink_line):
                continue
            text = snippet(ast.unparse(literal), 60)
            found.append((literal.lineno, f"unmarked string {text} passed to {what}"))
    return sorted(found)


def python_files(root: Path) -> Iterator[Path]:
    for package in APP_PACKAGES:
        for path in sorted((root / package).glob("**/*.py")):
            if not SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1]):
                yield path


def check_python(root: Path) -> Iterator[Problem]:
    for path in python_files(root):
        source = path.read_text(encoding="utf-8")
        for line, message in check_python_source(source):
            yield Problem(relative(path, root), line, message)


# ---------------------------------------------------------------------------------------
# 3. The ru catalogue
# ---------------------------------------------------------------------------------------


def is_untranslated(entry: polib.POEntry) -> bool:
    if entry.msgid_plural:
        forms = entry.msgstr_plural.values()
        return not forms or not all(forms)
    return not entry.msgstr


def entry_problems(entry: polib.POEntry) -> Iterator[str]:
    shown = snippet(entry.msgid)
    if entry.fuzzy:
        yield f'fuzzy entry "{shown}"'
    if is_untranslated(entry):
        yield f'untranslated entry "{shown}"'


def check_catalogue(root: Path) -> Iterator[Problem]:
    path = RU_CATALOGUE.as_posix()
    if not (root / RU_CATALOGUE).is_file():
        yield Problem(path, 1, "ru catalogue is missing")
        return
    try:
        catalogue = polib.pofile(str(root / RU_CATALOGUE))
    except (OSError, ValueError) as error:
        yield Problem(path, 1, f"cannot read ru catalogue: {error}")
        return
    for entry in catalogue:
        if entry.obsolete:
            continue
        for message in entry_problems(entry):
            yield Problem(path, entry.linenum or 1, message)


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def all_problems(root: Path) -> list[Problem]:
    checks: Iterable[Iterator[Problem]] = (
        check_templates(root),
        check_python(root),
        check_catalogue(root),
    )
    return [problem for check in checks for problem in check]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="project directory to check (default: this repository)",
    )
    root = parser.parse_args(argv).root.resolve()
    problems = all_problems(root)
    for problem in problems:
        print(problem)
    print(f"Translation check: {len(problems)} problem(s).", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
