"""Writes of the User Management context: registration, log-in, keys, language."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.crypto import secret_encrypt, secret_rotate
from accounts.events import (
    APIKeyRevoked,
    APIKeyStored,
    PasswordChanged,
    UserAuthenticated,
    UserRegistered,
)
from accounts.models import AccountEvent, Provider, ProviderKey, User
from accounts.selectors import key_forget, keys_forget_all
from accounts.ws import user_sockets_check

MAX_KEY_LENGTH = 512


def user_register(*, email: str, password: str) -> User:
    """Create a user after the server-side checks (invariants 1 and 2).

    Raises ``ValidationError`` keyed by field: a taken e-mail (in any letter case) or a
    password the validators refuse. Records UserRegistered.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    candidate = User(email=email)
    errors: dict[str, list[str]] = {}
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = [_("An account with this e-mail already exists.")]
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password)
        AccountEvent.record(UserRegistered(user_id=user.pk, email=user.email), user=user)
    key_forget(user_id=user.pk)  # SQLite may give a removed user's id to a new one
    return user


def user_authenticate(
    *, request: HttpRequest | None, email: str, password: str, method: str
) -> User | None:
    """The user with these credentials, or None; records UserAuthenticated on success."""
    user = authenticate(request, username=email.strip(), password=password)
    if user is None:
        return None
    AccountEvent.record(
        UserAuthenticated(user_id=user.pk, timestamp=timezone.now(), method=method), user=user
    )
    return user


def user_password_changed(
    *, user: User, method: str, session_renewed: tuple[str, str] | None = None
) -> None:
    """Record that ``user``'s password was just set (Django's forms set it), and close
    the sockets opened with the sign-ins it ended.

    The new password hash is what ends the other sign-ins: sessions carry an HMAC of it
    (Django checks it on every request) and access tokens an MD5 of it (simplejwt's
    CHECK_REVOKE_TOKEN). ``method`` is "change" or "reset"; ``session_renewed`` is the
    (old, new) key of the session that changed it and stays signed in.
    """
    AccountEvent.record(PasswordChanged(user_id=user.pk, method=method), user=user)
    transaction.on_commit(
        lambda: user_sockets_check(user_id=user.pk, session_renewed=session_renewed)
    )


def user_logout(*, request: HttpRequest) -> None:
    """End this browser's session, and close the sockets it opened."""
    user_id = request.user.pk
    logout(request)
    if user_id is not None:
        user_sockets_check(user_id=user_id)


def user_set_language(*, user: User, language: str) -> None:
    user.language = language
    user.save(update_fields=["language"])


def user_sign_in_language(*, user: User, chosen: str | None) -> str:
    """The language a sign-in goes on in: one the visitor chose just before (in this
    visit) wins and is saved on the account; without a choice, the account's own."""
    if chosen and chosen in dict(settings.LANGUAGES) and chosen != user.language:
        user_set_language(user=user, language=chosen)
    return user.language


def user_set_generation_defaults(
    *,
    user: User,
    models: dict[str, str],
    run_max_cost: Decimal | None,
    run_max_llm_calls: int | None,
) -> None:
    """Store the user's default model per provider and budget per run (empty = platform's)."""
    user.default_models = {provider: name for provider, name in models.items() if name}
    user.run_max_cost, user.run_max_llm_calls = run_max_cost, run_max_llm_calls
    user.save(update_fields=["default_models", "run_max_cost", "run_max_llm_calls"])


def key_store(*, user: User, provider: str, api_key: str) -> ProviderKey:
    """Store (or replace) the user's key for ``provider``, encrypted; records APIKeyStored.

    Raises ``ValidationError`` for an unknown provider or an empty, multi-line or
    overlong key. The plaintext is never logged and never leaves this function.
    """
    api_key = api_key.strip()
    _key_validate(provider=provider, api_key=api_key)
    with transaction.atomic():
        key, _created = ProviderKey.objects.update_or_create(
            user=user,
            provider=provider,
            defaults={"encrypted_key": secret_encrypt(api_key), "last4": api_key[-4:]},
        )
        AccountEvent.record(APIKeyStored(user_id=user.pk, provider=provider), user=user)
    key_forget(user_id=user.pk, provider=provider)
    return key


def _key_validate(*, provider: str, api_key: str) -> None:
    if provider not in Provider.values:
        raise ValidationError({"provider": [_("Unknown provider.")]})
    if len(api_key) < 8:
        raise ValidationError({"api_key": [_("This key is too short to be real.")]})
    if len(api_key) > MAX_KEY_LENGTH or any(ch.isspace() for ch in api_key):
        raise ValidationError(
            {"api_key": [_("A key is one line without spaces, at most 512 characters.")]}
        )


def key_revoke(*, user: User, provider: str) -> bool:
    """Delete the user's key for ``provider``; False when there was none."""
    with transaction.atomic():
        deleted, _counts = ProviderKey.objects.filter(user=user, provider=provider).delete()
        if deleted:
            AccountEvent.record(APIKeyRevoked(user_id=user.pk, provider=provider), user=user)
    key_forget(user_id=user.pk, provider=provider)
    return bool(deleted)


def keys_rotate_encryption() -> int:
    """Re-encrypt every stored key with the first encryption key; returns the count.

    Runs in one transaction: either every key moves to the new key or none does.
    """
    rotated = 0
    with transaction.atomic():
        for key in ProviderKey.objects.select_for_update().only("pk", "encrypted_key"):
            key.encrypted_key = secret_rotate(key.encrypted_key)
            key.save(update_fields=["encrypted_key"])
            rotated += 1
    keys_forget_all()
    return rotated
