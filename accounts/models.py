from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.crypto import secret_decrypt
from core.events import EventRecord
from core.providers import provider_choices


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        # Log-in by e-mail is case-insensitive, like its uniqueness (invariant 1).
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("e-mail"), max_length=254, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True, default=""
    )
    # Generation defaults: a model per provider ({"openai": "gpt-4.1-mini"}) and a budget
    # per run; empty means the platform's defaults. A project's own budget wins.
    default_models = models.JSONField(_("default models"), default=dict, blank=True)
    run_max_cost = models.DecimalField(
        _("budget per run, USD"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    run_max_llm_calls = models.PositiveIntegerField(_("LLM calls per run"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


# The LLM providers as choices (Provider.OPENAI, Provider.values, ...), from the one table.
# django-stubs knows the class form of choices only, not this functional one.
Provider = models.TextChoices(  # type: ignore[call-overload]
    "Provider", [(name.upper(), (name, label)) for name, label in provider_choices()]
)


class ProviderKey(models.Model):
    """A user's own LLM key (BYOK), stored only as a Fernet token (invariant 3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys"
    )
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices)
    encrypted_key = models.TextField(editable=False)
    last4 = models.CharField(_("last 4 characters"), max_length=4, editable=False)
    created_at = models.DateTimeField(_("stored"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("provider key")
        verbose_name_plural = _("provider keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="accounts_key_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ••••{self.last4}"

    def reveal(self) -> str:
        """The plaintext key: call only where it is sent to the provider (a worker)."""
        return secret_decrypt(self.encrypted_key)


class AccountEvent(EventRecord):
    """The User Management context's event log (UserRegistered, APIKeyStored, …)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_events"
    )

    class Meta(EventRecord.Meta):
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
