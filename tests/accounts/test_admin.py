import pytest
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, ProviderKey
from tests.accounts.factories import PASSWORD, UserFactory

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


def test_sixth_admin_login_attempt_in_a_minute_gets_a_429(client, fresh_rate_window):
    admin = UserFactory(is_staff=True, is_superuser=True)
    url = reverse("admin:login")

    def six():
        data = {"username": admin.email, "password": "guess", "next": "/admin/"}
        statuses = [client.post(url, data).status_code for _ in range(5)]
        return statuses, client.post(url, {**data, "password": PASSWORD})

    statuses, sixth = fresh_rate_window.burst(six, "auth.admin")
    assert statuses == [200] * 5  # the admin shows its form again with an error
    assert sixth.status_code == 429
    assert 1 <= int(sixth["Retry-After"]) <= 60
    assert "_auth_user_id" not in client.session


def test_showing_the_admin_login_form_is_not_counted(client):
    for _ in range(8):
        assert client.get(reverse("admin:login")).status_code == 200
