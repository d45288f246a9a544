import pytest
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, ProviderKey

pytestmark = pytest.mark.django_db

SECRET = "sk-admin-visible-NEVER-9876"


@pytest.fixture
def stored_key(user):
    return services.key_store(user=user, provider="openai", api_key=SECRET)


def test_admin_key_pages_show_the_key_masked_never_decrypted(admin_client, stored_key):
    pages = [
        admin_client.get(reverse("admin:accounts_providerkey_changelist")),
        admin_client.get(reverse("admin:accounts_providerkey_change", args=[stored_key.pk])),
        admin_client.get(reverse("admin:accounts_user_change", args=[stored_key.user_id])),
    ]

    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200
        assert "••••9876" in body
        assert SECRET not in body and "NEVER" not in body
        assert stored_key.encrypted_key not in body


def test_admin_revoke_action_deletes_the_key_and_records_it(admin_client, stored_key):
    response = admin_client.post(
        reverse("admin:accounts_providerkey_changelist"),
        {"action": "revoke", "_selected_action": [stored_key.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert not ProviderKey.objects.exists()
    assert AccountEvent.objects.filter(name="APIKeyRevoked", user=stored_key.user).exists()


def test_admin_cannot_add_or_edit_keys(admin_client, stored_key):
    assert admin_client.get(reverse("admin:accounts_providerkey_add")).status_code == 403
    admin_client.post(
        reverse("admin:accounts_providerkey_change", args=[stored_key.pk]), {"last4": "0000"}
    )
    stored_key.refresh_from_db()
    assert stored_key.last4 == "9876"
