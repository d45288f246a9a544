"""Reads of the User Management context."""

from django.db.models import QuerySet

from accounts.models import Provider, ProviderKey, User
from core.ttlcache import TTLCache

# The worker looks the key up for every LLM call; a key stored or revoked in another
# process (the web one) is seen within this many seconds, in this one at once.
KEY_CACHE_SECONDS = 5.0
_keys: TTLCache[ProviderKey | None] = TTLCache(KEY_CACHE_SECONDS)


def key_list(*, user: User) -> QuerySet[ProviderKey]:
    """The user's stored keys, without the ciphertext (it is never shown)."""
    return ProviderKey.objects.filter(user=user).defer("encrypted_key").order_by("provider")


def key_find(*, user_id: int, provider: str) -> ProviderKey | None:
    """The user's stored key for ``provider`` (None: none), cached per user and provider
    for at most KEY_CACHE_SECONDS (``key_forget`` drops it at once)."""
    return _keys.get(
        (user_id, provider),
        lambda: ProviderKey.objects.filter(user_id=user_id, provider=provider).first(),
    )


def key_forget(*, user_id: int, provider: str | None = None) -> None:
    """Drop the cached key of the user for ``provider`` (every provider when None)."""
    for name in [provider] if provider is not None else Provider.values:
        _keys.forget((user_id, name))


def keys_forget_all() -> None:
    """Drop every cached key (after they were all re-encrypted)."""
    _keys.clear()
