import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection

from accounts import selectors, services
from accounts.crypto import KeyDecryptionError
from accounts.events import UserRegistered
from accounts.models import AccountEvent, ProviderKey, User
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

PLAINTEXT_KEY = "sk-test-PLAINTEXT-abcdefghijklmnop-7Q9z"


def test_register_creates_user_and_records_event():
    user = services.user_register(email="  Ada@Example.COM ", password=PASSWORD)

    assert user.email == "ada@example.com"
    assert user.check_password(PASSWORD)
    event = AccountEvent.objects.get(user=user)
    assert event.name == "UserRegistered"
    assert event.payload == {"user_id": user.pk, "email": "ada@example.com"}


def test_email_is_unique_whatever_its_letter_case(user):
    with pytest.raises(ValidationError) as caught:
        services.user_register(email=user.email.upper(), password=PASSWORD)

    assert "email" in caught.value.message_dict
    assert User.objects.count() == 1


def test_database_refuses_a_case_variant_email_written_past_the_service(user):
    with pytest.raises(IntegrityError):
        User.objects.create(email=user.email.swapcase(), password="x")


@pytest.mark.parametrize("password", ["short1!", "1234567890", "password123"])
def test_weak_passwords_are_refused_on_the_server(password):
    with pytest.raises(ValidationError) as caught:
        services.user_register(email="weak@example.com", password=password)

    assert "password" in caught.value.message_dict
    assert not User.objects.exists()


def test_authenticate_by_email_in_any_case_records_event(user):
    found = services.user_authenticate(
        request=None, email=user.email.upper(), password=PASSWORD, method="jwt"
    )

    assert found == user
    event = AccountEvent.objects.get(user=user, name="UserAuthenticated")
    assert event.payload["method"] == "jwt"


def test_wrong_password_authenticates_nobody(user):
    assert (
        services.user_authenticate(request=None, email=user.email, password="nope", method="jwt")
        is None
    )
    assert not AccountEvent.objects.filter(name="UserAuthenticated").exists()


def _raw_key_column() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_key FROM accounts_providerkey")
        return [row[0] for row in cursor.fetchall()]


def test_stored_key_column_holds_no_plaintext(user):
    key = services.key_store(user=user, provider="openai", api_key=PLAINTEXT_KEY)

    stored = _raw_key_column()
    assert len(stored) == 1
    assert PLAINTEXT_KEY not in stored[0]
    assert "PLAINTEXT" not in stored[0]
    assert key.last4 == "7Q9z"
    assert ProviderKey.objects.get(pk=key.pk).reveal() == PLAINTEXT_KEY


def test_storing_again_replaces_the_key_for_that_provider(user):
    services.key_store(user=user, provider="groq", api_key="gsk_first_key_0001")
    services.key_store(user=user, provider="groq", api_key="gsk_second_key_0002")

    keys = list(selectors.key_list(user=user))
    assert [(k.provider, k.last4) for k in keys] == [("groq", "0002")]
    assert AccountEvent.objects.filter(user=user, name="APIKeyStored").count() == 2


@pytest.mark.parametrize(
    ("provider", "api_key", "field"),
    [
        ("openai", "short", "api_key"),
        ("openai", "sk-with space-inside", "api_key"),
        ("openai", "x" * 513, "api_key"),
        ("mistral", "sk-valid-looking-key", "provider"),
    ],
)
def test_bad_keys_are_refused_with_the_field_named(user, provider, api_key, field):
    with pytest.raises(ValidationError) as caught:
        services.key_store(user=user, provider=provider, api_key=api_key)

    assert field in caught.value.message_dict
    assert not ProviderKey.objects.exists()


def test_revoke_deletes_only_that_users_key(user, other_user):
    services.key_store(user=user, provider="anthropic", api_key="sk-ant-user-one-1111")
    services.key_store(user=other_user, provider="anthropic", api_key="sk-ant-user-two-2222")

    assert services.key_revoke(user=user, provider="anthropic") is True
    assert services.key_revoke(user=user, provider="anthropic") is False
    assert list(ProviderKey.objects.values_list("user", flat=True)) == [other_user.pk]
    assert AccountEvent.objects.filter(user=user, name="APIKeyRevoked").count() == 1


def test_events_are_append_only(user):
    event = AccountEvent.record(UserRegistered(user_id=user.pk, email=user.email), user=user)
    event.payload = {"tampered": True}
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_rotation_then_dropping_the_old_key_keeps_every_key_readable(settings, user, other_user):
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    settings.SAMOKODER_ENCRYPTION_KEYS = [old_key]
    secrets_by_user = {
        user.pk: "sk-rotate-me-first-AAAA",
        other_user.pk: "sk-rotate-me-second-BBBB",
    }
    for owner in (user, other_user):
        services.key_store(user=owner, provider="openai", api_key=secrets_by_user[owner.pk])
    before = _raw_key_column()

    settings.SAMOKODER_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.SAMOKODER_ENCRYPTION_KEYS = [new_key]

    assert set(_raw_key_column()).isdisjoint(before)
    for key in ProviderKey.objects.all():
        assert key.reveal() == secrets_by_user[key.user_id]


def test_without_rotation_dropping_the_old_key_makes_keys_unreadable(settings, user):
    settings.SAMOKODER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    services.key_store(user=user, provider="openai", api_key="sk-not-rotated-CCCC")
    settings.SAMOKODER_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(KeyDecryptionError):
        ProviderKey.objects.get().reveal()
