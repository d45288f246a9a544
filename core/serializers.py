"""A ModelSerializer that works out its fields from the model once per class.

DRF's ModelSerializer inspects the model and builds every field again for each serializer
it makes, that is on every API request: for the run status (27 fields) that was about a
sixth of the request's CPU time (bench/api_load.py and cProfile, 2026-11-30). The fields
depend only on the class (its Meta and declared fields), so they are built once and each
serializer gets a copy, made as DRF copies declared fields: each field made again from
the arguments it was first made with, so no serializer shares a bound field with another.

Once per class and language: DRF gives a field a label only where the model's verbose
name, translated, differs from the field's name ("Name" in English, none; "Название" in
Russian), so fields built in one language are wrong in another.
"""

import copy
from typing import Any, ClassVar

from django.utils import translation
from rest_framework import serializers
from rest_framework.fields import Field


class ModelSerializer(serializers.ModelSerializer):
    """``serializers.ModelSerializer`` with its fields built once per class.

    Only for serializers whose ``get_fields`` depends on nothing but the class: not on
    ``context``, the instance or the request.
    """

    _fields_built: ClassVar[dict[str | None, dict[str, Field]]]

    def get_fields(self) -> dict[str, Field]:
        # The class's own attribute: a subclass has fields of its own.
        by_language = type(self).__dict__.get("_fields_built")
        if by_language is None:
            by_language = type(self)._fields_built = {}
        language = translation.get_language()
        built = by_language.get(language)
        if built is None:
            # A race only builds the same fields twice.
            built = by_language[language] = super().get_fields()
        return {name: _fresh(field) for name, field in built.items()}


def _fresh(field: Field) -> Field:
    """A new, unbound field made with ``field``'s arguments. DRF's own copy (deepcopy)
    also copies each argument; those of a built field are choices, validators, labels
    and the like, which a field reads and never changes (DRF shares validators already),
    so only a field given as an argument (a list's child) is copied, being bound to its
    parent. The deep copy was half the cost that building once saved."""
    made: tuple[list[Any], dict[str, Any]] = (field._args, field._kwargs)  # type: ignore[attr-defined]
    args = [_copied_if_field(value) for value in made[0]]
    kwargs = {key: _copied_if_field(value) for key, value in made[1].items()}
    return type(field)(*args, **kwargs)


def _copied_if_field(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, Field) else value
