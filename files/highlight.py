"""Syntax highlighting of file text and diffs for pages (Pygments, escaped HTML)."""

from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(cssclass="highlight", linenos="table", wrapcode=True)
_DIFF_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)


def highlight_file(path: str, text: str) -> SafeString:
    """HTML for ``text``, coloured by the language its file name suggests."""
    try:
        lexer = get_lexer_for_filename(path, text, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    # Pygments escapes the text itself, so the markup is safe to embed.
    return mark_safe(highlight(text, lexer, _FORMATTER))  # noqa: S308


def highlight_diff(diff: str) -> SafeString:
    return mark_safe(highlight(diff, DiffLexer(stripnl=False), _DIFF_FORMATTER))  # noqa: S308
