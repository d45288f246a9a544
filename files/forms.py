from django import forms
from django.utils.translation import gettext_lazy as _


class FileEditForm(forms.Form):
    content = forms.CharField(
        label=_("Content"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
    )

    def clean_content(self) -> str:
        # Browsers send every textarea line break as CRLF (HTML spec), whatever the file
        # had; keep the line breaks the user meant, as in the editor they typed into.
        return self.cleaned_data["content"].replace("\r\n", "\n")


class FileNewForm(FileEditForm):
    path = forms.CharField(
        label=_("Path"),
        max_length=255,
        help_text=_("Relative to the project, for example src/app.py."),
    )
    field_order = ["path", "content"]


class BranchForkForm(forms.Form):
    name = forms.CharField(label=_("New branch name"), max_length=64)
