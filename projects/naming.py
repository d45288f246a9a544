"""folder_name from a project name (invariant 6): ASCII slug, Cyrillic transliterated."""

from django.utils.text import slugify

# GOST 7.79-2000 system B, simplified to plain ASCII letters; "-" marks a letter that
# is dropped (the hard and soft signs).
_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ"
_LATIN = "a b v g d e yo zh z i j k l m n o p r s t u f h c ch sh shh - y - e yu ya i yi ye g"
_CYRILLIC = {
    letter: "" if latin == "-" else latin
    for letter, latin in zip(_LETTERS, _LATIN.split(), strict=True)
}


def folder_slug(name: str, *, max_length: int = 90) -> str:
    """``"Мой проект!"`` → ``"moj-proekt"``; ``"project"`` when nothing usable is left."""
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in name.lower())
    slug = slugify(latin)[:max_length].strip("-")
    return slug or "project"
