"""Events of the User Management context (domain model, section 1)."""

import dataclasses
from datetime import datetime

from core.events import DomainEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserRegistered(DomainEvent):
    user_id: int
    email: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserAuthenticated(DomainEvent):
    user_id: int
    timestamp: datetime
    method: str  # "session" or "jwt"


@dataclasses.dataclass(frozen=True, kw_only=True)
class APIKeyStored(DomainEvent):
    user_id: int
    provider: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class APIKeyRevoked(DomainEvent):
    user_id: int
    provider: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class PasswordChanged(DomainEvent):
    user_id: int
    method: str  # "change" (knowing the old one) or "reset" (by e-mail)


__all__ = [
    "APIKeyRevoked",
    "APIKeyStored",
    "PasswordChanged",
    "UserAuthenticated",
    "UserRegistered",
]
