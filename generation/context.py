"""What an agent sends the LLM about the project: the files its task touches in full,
the rest as one-line summaries, capped, so a prompt grows far slower than the project.
"""

import ast
from dataclasses import dataclass
from pathlib import PurePosixPath

SUMMARY_LIMIT = 40  # other files listed by summary; the rest are only counted
SUMMARY_CHARS = 120


@dataclass(frozen=True)
class ProjectContext:
    relevant: dict[str, str]  # path -> full text
    summaries: list[tuple[str, str]]  # (path, one line)
    omitted: int  # files neither shown nor summarised


def file_summary(path: str, text: str) -> str:
    """One line about a file: a Python module's docstring or top-level names, else its
    first non-empty line."""
    summary = _python_summary(text) if path.endswith(".py") else ""
    if not summary:
        summary = next((line.strip() for line in text.splitlines() if line.strip()), "(empty)")
    return summary[:SUMMARY_CHARS]


def _python_summary(text: str) -> str:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ""
    doc = ast.get_docstring(tree)
    if doc:
        return doc.strip().splitlines()[0]
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = [node.name for node in tree.body if isinstance(node, kinds)]
    return ("defines " + ", ".join(names)) if names else ""


def project_context(files: dict[str, str], focus: list[str]) -> ProjectContext:
    """The context for work on ``focus`` paths among ``files`` (path -> text).

    Summaries prefer files in the same folders as the focus, then the shallowest paths.
    """
    relevant = {path: files[path] for path in focus if path in files}
    folders = {str(PurePosixPath(path).parent) for path in focus}
    others = sorted(
        (path for path in files if path not in relevant),
        key=lambda p: (str(PurePosixPath(p).parent) not in folders, p.count("/"), p),
    )
    shown = others[:SUMMARY_LIMIT]
    summaries = [(path, file_summary(path, files[path])) for path in shown]
    return ProjectContext(relevant, summaries, omitted=len(others) - len(shown))
