"""Helpers shared by the apps' page forms."""

from django import forms
from django.core.exceptions import ValidationError


def form_apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field, else on the form."""
    for field, field_errors in error.message_dict.items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)
