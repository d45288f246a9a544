"""Encryption of stored provider keys with MultiFernet.

``SAMOKODER_ENCRYPTION_KEYS`` lists Fernet keys: the first encrypts, all decrypt, so
an operator adds a new key in front, runs ``rotate_encryption_keys`` and then drops
the old one.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class KeyDecryptionError(Exception):
    """A stored key cannot be decrypted with any configured encryption key."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.SAMOKODER_ENCRYPTION_KEYS])


def secret_encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyDecryptionError("no configured encryption key decrypts this value") from exc


def secret_rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyDecryptionError("no configured encryption key decrypts this value") from exc
