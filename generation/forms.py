from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import CountedCharField
from core.providers import provider_label
from llm.selectors import model_choices, models_offered


class RunStartForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"))
    model = forms.ChoiceField(
        label=_("Model"), required=False,
        help_text=_("Models with a known price; the marked one is the provider's default."),
    )  # fmt: skip

    def __init__(
        self, *args, providers: list[str], known: dict[str, list[str]] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.known: dict[str, list[str]] = known or {}
        provider = cast(forms.ChoiceField, self.fields["provider"])  # declared so above
        provider.choices = [(p, provider_label(p)) for p in providers]
        default_label = str(_("%(model)s (default)"))
        model = cast(forms.ChoiceField, self.fields["model"])
        model.choices = [
            ("", _("The provider's default")),
            *model_choices(providers=providers, default_label=default_label, known=self.known),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider, model = data.get("provider"), data.get("model")
        if (
            provider
            and model
            and model
            not in models_offered(provider=provider, extra=tuple(self.known.get(provider, ())))
        ):
            message = _("%(provider)s does not offer %(model)s.")
            self.add_error(
                "model", message % {"provider": provider_label(provider), "model": model}
            )
        return data


class ChangeForm(forms.Form):
    change = CountedCharField(
        label=_("Ask for a change"), max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A new iteration continues from the current files."),
    )  # fmt: skip


class AnswerForm(forms.Form):
    answer = CountedCharField(
        label=_("Your answer"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 2})
    )
