"""Which key a request uses (invariant 16): the user's own first, then the system's.

Only ``key_resolve`` decrypts, and only the worker calls it, on every LLM call: it reads
the key through a per-process cache of a few seconds (``accounts.selectors.key_find``),
which a revoke in the same process empties at once. The web process asks
``key_available`` and ``provider_default``, which look at which keys exist, uncached.
"""

from dataclasses import dataclass, field

from django.conf import settings

from accounts.models import ProviderKey
from accounts.selectors import key_find
from core.providers import PROVIDER_NAMES
from llm.errors import KeyMissing, provider_label


@dataclass(frozen=True)
class ResolvedKey:
    api_key: str = field(repr=False)
    source: str  # "user" or "system"


def key_resolve(*, user_id: int, provider: str) -> ResolvedKey:
    """The key to use, decrypted; raises KeyMissing (a reason the user can act on)."""
    stored = key_find(user_id=user_id, provider=provider)  # cached for a few seconds
    if stored is not None:
        return ResolvedKey(api_key=stored.reveal(), source="user")
    system = settings.LLM_SYSTEM_KEYS.get(provider, "")
    if system:
        return ResolvedKey(api_key=system, source="system")
    raise KeyMissing(params={"provider": provider_label(provider)})


def known_secrets(resolved: ResolvedKey) -> list[str]:
    """Every key that must never be written down while this request is handled."""
    return [resolved.api_key, *(key for key in settings.LLM_SYSTEM_KEYS.values() if key)]


def key_available(*, user_id: int, provider: str) -> bool:
    """Whether ``key_resolve`` would find a key (the user's or the system's); decrypts none."""
    return key_source(user_id=user_id, provider=provider) is not None


def key_source(*, user_id: int, provider: str) -> str | None:
    """Which key ``key_resolve`` would use: "user", "system", or None; decrypts none."""
    if ProviderKey.objects.filter(user_id=user_id, provider=provider).exists():
        return "user"
    return "system" if settings.LLM_SYSTEM_KEYS.get(provider) else None


def providers_available(*, user_id: int) -> list[str]:
    """Providers a run could use now: the user's keys, then the platform's system keys."""
    own = _providers_of(user_id)
    return [p for p in PROVIDER_NAMES if p in own or settings.LLM_SYSTEM_KEYS.get(p)]


def provider_default(*, user_id: int) -> str | None:
    """The provider a run uses when none is asked for: the user's own key first
    (invariant 16), then one the platform has a system key for; None when neither."""
    own = _providers_of(user_id)
    for provider in PROVIDER_NAMES:
        if provider in own:
            return provider
    return next((p for p in PROVIDER_NAMES if settings.LLM_SYSTEM_KEYS.get(p)), None)


def _providers_of(user_id: int) -> set[str]:
    return set(ProviderKey.objects.filter(user_id=user_id).values_list("provider", flat=True))
