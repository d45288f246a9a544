"""Formatting shared by the admin pages."""

from collections.abc import Callable
from decimal import Decimal

from django.contrib import admin


def money_column(field: str, label) -> Callable:
    """A change-list column showing a USD amount to 4 decimals ("—" when unknown)."""

    @admin.display(description=label, ordering=field)
    def column(obj) -> str:
        value: Decimal | None = getattr(obj, field)
        return "—" if value is None else f"{value:.4f}"

    return column
