"""The language of a user's description: the specification and questions are written in it."""

NAMES = {"ru": "Russian", "en": "English"}  # for the prompt, which is in English


def text_language(text: str) -> str:
    """ "ru" when most letters are Cyrillic, else "en"."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in letters)
    return "ru" if cyrillic * 2 >= len(letters) else "en"


def language_name(code: str) -> str:
    return NAMES.get(code, "English")
