from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from accounts.models import Provider
from core.providers import PROVIDERS, ProviderSpec


class RegistrationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        min_length=8,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters."),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("password") and data.get("password") != data.get("password_again"):
            raise ValidationError({"password_again": _("The two passwords differ.")})
        return data


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class KeyForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"), choices=Provider.choices)
    api_key = forms.CharField(
        label=_("API key"),
        max_length=512,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("Stored encrypted; only its last 4 characters are ever shown."),
    )


def _model_name(provider: str) -> str:
    return f"{provider}_model"


def _model_field(provider: ProviderSpec) -> forms.CharField:
    return forms.CharField(
        label=_("%(provider)s model") % {"provider": provider.label},
        help_text=_("Empty: %(model)s.") % {"model": settings.LLM_DEFAULT_MODELS[provider.name]},
        max_length=128,
        required=False,
    )


class GenerationDefaultsForm(forms.Form):
    """Models per provider and a budget per run, used when a run or project sets none.

    A model field per row of the provider table, named ``<provider>_model``, comes first.
    """

    run_max_cost = forms.DecimalField(
        label=_("Budget per run, USD"), required=False, min_value=Decimal("0.01"),
        max_value=Decimal("10000"), decimal_places=2, localize=True,
    )  # fmt: skip
    run_max_llm_calls = forms.IntegerField(
        label=_("LLM calls per run"), required=False, min_value=1, max_value=100_000
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Said in the language of the request, not of the import.
        models = {_model_name(p.name): _model_field(p) for p in PROVIDERS}
        self.fields = {**models, **self.fields}
        # Amounts as the reader writes them in the field beside (localize=True): "5,00" in ru.
        self.fields["run_max_cost"].help_text = _("Empty: $%(default)s.") % {
            "default": number_format(settings.SAMOKODER_RUN_MAX_COST, 2)
        }
        if any(settings.LLM_SYSTEM_KEYS.values()):
            cap = _("Runs on the platform's keys stop at $%(cap)s, whatever is set here.")
            self.fields["run_max_cost"].help_text += " " + cap % {
                "cap": number_format(settings.SAMOKODER_PLATFORM_MAX_RUN_COST, 2)
            }
        self.fields["run_max_llm_calls"].help_text = _("Empty: %(default)s.") % {
            "default": settings.SAMOKODER_RUN_MAX_LLM_CALLS
        }

    @classmethod
    def for_user(cls, user, data=None) -> "GenerationDefaultsForm":
        initial = {_model_name(p): m for p, m in user.default_models.items()}
        initial.update(run_max_cost=user.run_max_cost, run_max_llm_calls=user.run_max_llm_calls)
        return cls(data, initial=initial)

    def models(self) -> dict[str, str]:
        return {p.name: self.cleaned_data[_model_name(p.name)] for p in PROVIDERS}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for field in (_model_name(p.name) for p in PROVIDERS):
            value = (data.get(field) or "").strip()
            if any(ch.isspace() for ch in value):
                self.add_error(field, _("A model name has no spaces."))
            data[field] = value
        return data


# Django's password forms with the site's wording; their rules (the validators of
# AUTH_PASSWORD_VALIDATORS, invariant 2) are unchanged.
NEW_PASSWORD_HELP = _("At least 8 characters; not a common password, not only digits.")


def _relabel_new_passwords(form: auth_forms.SetPasswordForm) -> None:
    form.fields["new_password1"].label = _("New password")
    form.fields["new_password1"].help_text = NEW_PASSWORD_HELP
    form.fields["new_password2"].label = _("New password again")
    form.fields["new_password2"].help_text = ""


class PasswordSetForm(auth_forms.SetPasswordForm):
    error_messages = {"password_mismatch": _("The two passwords differ.")}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _relabel_new_passwords(self)


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    error_messages = {
        "password_mismatch": _("The two passwords differ."),
        "password_incorrect": _("The current password is wrong."),
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("Current password")
        _relabel_new_passwords(self)


class PasswordResetForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
