"""Account pages: thin views over ``accounts.services``."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic.edit import FormView

from accounts import selectors, services
from accounts.forms import (
    GenerationDefaultsForm,
    KeyForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordSetForm,
    RegistrationForm,
)
from accounts.models import Provider, User
from accounts.requests import AuthenticatedHttpRequest
from core.forms import form_apply_errors
from core.ratelimit import rate_limit

# The session remembers a language switched to in this visit: the cookie alone cannot tell
# a choice made just now from one left by an earlier sign-in in this browser.
LANGUAGE_CHOSEN = "language_chosen"


def _sign_in(request: HttpRequest, user: User) -> HttpResponse:
    language = services.user_sign_in_language(
        user=user, chosen=request.session.get(LANGUAGE_CHOSEN)
    )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("projects:dashboard")
    response = HttpResponseRedirect(target)
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


@rate_limit(group="auth.register", rate="RATELIMIT_AUTH")
def register_view(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"]
            )
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            services.user_set_language(user=user, language=request.LANGUAGE_CODE)
            messages.success(request, _("Welcome to Samokoder."))
            return _sign_in(request, user)
    return render(request, "accounts/register.html", {"form": form})


@rate_limit(group="auth.login", rate="RATELIMIT_AUTH")
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_authenticate(
            request=request,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            method="session",
        )
        if user is not None:
            return _sign_in(request, user)
        form.add_error(None, _("E-mail or password is wrong."))
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/login.html", {"form": form}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.user_logout(request=request)
    return redirect("accounts:login")


@login_required
def settings_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.POST.get("form") == "defaults":
        return _defaults_save(request)
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.key_store(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_apply_errors(form, exc)
        else:
            messages.success(
                request, _("%(provider)s key saved.") % {"provider": key.get_provider_display()}
            )
            return redirect("accounts:settings")
    status = 400 if request.method == "POST" else 200
    return _settings_page(request, form, GenerationDefaultsForm.for_user(request.user), status)


def _settings_page(request, form, defaults, status: int) -> HttpResponse:
    context = {"form": form, "defaults": defaults, "keys": selectors.key_list(user=request.user)}
    return render(request, "accounts/settings.html", context, status=status)


def _defaults_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    defaults = GenerationDefaultsForm.for_user(request.user, request.POST)
    if not defaults.is_valid():
        return _settings_page(request, KeyForm(), defaults, 400)
    services.user_set_generation_defaults(
        user=request.user, models=defaults.models(),
        run_max_cost=defaults.cleaned_data["run_max_cost"],
        run_max_llm_calls=defaults.cleaned_data["run_max_llm_calls"],
    )  # fmt: skip
    messages.success(request, _("Generation defaults saved."))
    return redirect("accounts:settings")


@login_required
@require_POST
def key_revoke_view(request: AuthenticatedHttpRequest, provider: str) -> HttpResponse:
    if provider in Provider.values and services.key_revoke(user=request.user, provider=provider):
        messages.success(
            request, _("%(provider)s key revoked.") % {"provider": Provider(provider).label}
        )
    else:
        messages.error(request, _("There was no such key."))
    return redirect("accounts:settings")


@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    """Switch the language: a cookie for this browser, saved on a signed-in user, and
    remembered for this visit so that logging in next keeps it (``_sign_in``)."""
    language = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if language in dict(settings.LANGUAGES) and check_for_language(language):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        request.session[LANGUAGE_CHOSEN] = language
        if request.user.is_authenticated:
            services.user_set_language(user=request.user, language=language)
    return response


# Password change and reset: Django's views and tokens, the site's forms and templates.


class _RefusedFormIs400(FormView):
    def form_invalid(self, form) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PasswordChangeView(_RefusedFormIs400, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:settings")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # saves it; this session stays, under a new key
        new_key = self.request.session.session_key
        renewed = (old_key, new_key) if old_key and new_key else None
        services.user_password_changed(user=form.user, method="change", session_renewed=renewed)
        messages.success(
            self.request, _("Password changed. Your other sessions and API tokens are logged out.")
        )
        return response


class PasswordResetView(_RefusedFormIs400, auth_views.PasswordResetView):
    """Answers the same whether the address is registered or not (no account probing)."""

    form_class = PasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    @property
    def extra_email_context(self) -> dict:
        return {"valid_days": max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1)}


class PasswordResetConfirmView(_RefusedFormIs400, auth_views.PasswordResetConfirmView):
    form_class = PasswordSetForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form: PasswordSetForm) -> HttpResponse:
        response = super().form_valid(form)
        services.user_password_changed(user=form.user, method="reset")
        return response


password_change_view = rate_limit(group="auth.password_change", rate="RATELIMIT_AUTH")(
    PasswordChangeView.as_view()
)
password_reset_view = rate_limit(group="auth.password_reset", rate="RATELIMIT_AUTH")(
    PasswordResetView.as_view()
)
password_reset_done_view = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm_view = PasswordResetConfirmView.as_view()
password_reset_complete_view = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
