"""What the agents send: the user's language for the spec, and a bounded context."""

from generation.agents import CodeMonkey, SpecWriter
from generation.context import SUMMARY_LIMIT, file_summary, project_context
from generation.language import text_language

RUSSIAN = "Консольный счётчик слов: python3 wc.py ФАЙЛ печатает строки, слова и символы."


def prompt(conversation) -> str:
    return "\n".join(message.content for message in conversation.messages)


def test_the_spec_is_asked_for_in_the_language_of_the_description():
    language = text_language(RUSSIAN)
    text = prompt(SpecWriter().conversation(
        description=RUSSIAN, answers=[], language=language, language_name="Russian", may_ask=True,
    ))  # fmt: skip
    assert language == "ru"
    assert "in Russian, the language of the description" in text
    assert 'Set "language" to "ru"' in text
    assert RUSSIAN in text
    assert text_language("A word counter in Python") == "en"


def test_after_answers_the_spec_writer_may_not_ask_again():
    text = prompt(SpecWriter().conversation(
        description="d", answers=[("stdin?", "no")], language="en", language_name="English",
        may_ask=False,
    ))  # fmt: skip
    assert "Q: stdin?" in text and "A: no" in text
    assert "Do not ask more questions" in text


def test_code_monkey_sees_its_files_in_full_and_the_rest_as_capped_summaries():
    files = {
        f"pkg/module_{i:03}.py": f'"""Module {i}."""\nVALUE = "{"x" * 500}"\n' for i in range(200)
    }
    files["pkg/target.py"] = "def target():\n    return 42\n"
    context = project_context(files, ["pkg/target.py"])
    text = prompt(CodeMonkey().conversation(
        path="pkg/target.py", purpose="p", task={"description": "t"},
        architecture={"summary": "a", "test_command": "t"}, context=context,
    ))  # fmt: skip
    assert "return 42" in text
    assert len(context.summaries) == SUMMARY_LIMIT and context.omitted == 200 - SUMMARY_LIMIT
    assert "x" * 500 not in text  # other files only by their one-line summary
    assert "- pkg/module_000.py: Module 0." in text
    assert len(text) < 10_000


def test_a_summary_is_one_line():
    assert (
        file_summary("a.py", "import os\n\ndef f():\n    pass\nclass C:\n    pass\n")
        == "defines f, C"
    )
    assert file_summary("README.md", "\n\n# Title\nbody") == "# Title"
    assert file_summary("bad.py", "def (:\n") == "def (:"
