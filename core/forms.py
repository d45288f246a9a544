"""Helpers shared by the apps' page forms."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def form_apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field, else on the form."""
    for field, field_errors in error.message_dict.items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)


class CountedCharField(forms.CharField):
    """A text field with a visible character counter instead of the browser's maxlength,
    which cuts a longer paste silently: the server refuses it and says the limit."""

    def widget_attrs(self, widget: forms.Widget) -> dict:
        attrs = super().widget_attrs(widget)
        if attrs.pop("maxlength", None) is not None:
            attrs["data-limit"] = str(self.max_length)
            # Lazy: rendered in the language of the request, not of the import.
            attrs["data-counter"] = _("%(n)s of %(limit)s characters")
        return attrs
