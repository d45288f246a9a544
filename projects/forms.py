from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import CountedCharField
from projects.services import DESCRIPTION_REQUIRED


class ProjectForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = CountedCharField(
        label=_("What should it do?"),
        max_length=20_000,
        error_messages={"required": DESCRIPTION_REQUIRED},  # blank or only spaces: stripped
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Describe the app in plain words; the agents start from this."),
    )
