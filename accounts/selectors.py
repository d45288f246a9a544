"""Reads of the User Management context."""

from django.db.models import QuerySet

from accounts.models import ProviderKey, User


def key_list(*, user: User) -> QuerySet[ProviderKey]:
    """The user's stored keys, without the ciphertext (it is never shown)."""
    return ProviderKey.objects.filter(user=user).defer("encrypted_key").order_by("provider")
