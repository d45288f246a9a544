"""Which key a request uses (invariant 16): the user's own first, then the system's."""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from accounts.models import ProviderKey
from llm.errors import KeyMissing, provider_label


@dataclass(frozen=True)
class ResolvedKey:
    api_key: str = field(repr=False)
    source: str  # "user" or "system"


def key_resolve(*, user_id: int, provider: str) -> ResolvedKey:
    """The key to use, decrypted; raises KeyMissing (a reason the user can act on)."""
    stored = ProviderKey.objects.filter(user_id=user_id, provider=provider).first()
    if stored is not None:
        return ResolvedKey(api_key=stored.reveal(), source="user")
    system = settings.LLM_SYSTEM_KEYS.get(provider, "")
    if system:
        return ResolvedKey(api_key=system, source="system")
    raise KeyMissing(
        _("No %(provider)s key: store yours in Settings to start a generation.")
        % {"provider": provider_label(provider)}
    )


def known_secrets(resolved: ResolvedKey) -> list[str]:
    """Every key that must never be written down while this request is handled."""
    return [resolved.api_key, *(key for key in settings.LLM_SYSTEM_KEYS.values() if key)]
