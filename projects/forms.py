from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import CountedCharField


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = CountedCharField(
        label=_("What should it do?"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Describe the app in plain words; the agents start from this."),
    )
