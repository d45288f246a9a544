from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from llm.providers.table import provider_label


class RunStartForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"))
    model = forms.CharField(
        label=_("Model"), max_length=128, required=False,
        help_text=_("Empty: the provider's default model."),
    )  # fmt: skip

    def __init__(self, *args, providers: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        provider = cast(forms.ChoiceField, self.fields["provider"])  # declared so above
        provider.choices = [(p, provider_label(p)) for p in providers]


class ChangeForm(forms.Form):
    change = forms.CharField(
        label=_("Ask for a change"), max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("A new iteration continues from the current files."),
    )  # fmt: skip


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("Your answer"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 3})
    )
