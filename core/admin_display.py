"""Formatting shared by the admin pages."""

from collections.abc import Callable
from decimal import Decimal

from django.contrib import admin


def money_column(field: str, label) -> Callable:
    """A change-list column showing a USD amount to 4 decimals ("—" when unknown); set it
    as an attribute of the ModelAdmin, so it is called as a method."""

    @admin.display(description=label, ordering=field)
    def column(_admin: admin.ModelAdmin, obj) -> str:
        value: Decimal | None = getattr(obj, field)
        return "—" if value is None else f"{value:.4f}"

    return column
