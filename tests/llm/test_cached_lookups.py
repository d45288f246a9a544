"""Keys, prices and structured-output modes are read through a per-process cache of a few
seconds: never shared between users, emptied by the writes of this process."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from accounts.selectors import KEY_CACHE_SECONDS, _keys
from accounts.services import key_store
from llm import accounting, capabilities
from llm.errors import KeyMissing
from llm.keys import key_resolve
from llm.models import ModelCapability, ModelPrice
from llm.services import CallContext, LLMGateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_system_keys(settings):
    settings.LLM_SYSTEM_KEYS = {"openai": "", "anthropic": "", "groq": ""}


@pytest.fixture
def clock(monkeypatch):
    """A clock the caches read, moved by hand."""
    now = [1000.0]
    for cache in (_keys, accounting._prices, capabilities._modes):
        monkeypatch.setattr(cache, "clock", lambda: now[0])
    return now


def test_one_users_cached_key_is_never_anothers(user, other_user, no_system_keys):
    key_store(user=user, provider="openai", api_key="sk-first-user-000000000000")
    assert key_resolve(user_id=user.pk, provider="openai").api_key == "sk-first-user-000000000000"

    with pytest.raises(KeyMissing):
        async_to_sync(LLMGateway.open)(CallContext(user_id=other_user.pk, provider="openai",
                                                   agent="SpecWriter"))  # fmt: skip


def test_a_stored_key_replaces_the_cached_one_at_once(user, no_system_keys):
    key_store(user=user, provider="openai", api_key="sk-old-key-0000000000000")
    key_resolve(user_id=user.pk, provider="openai")

    key_store(user=user, provider="openai", api_key="sk-new-key-0000000000000")

    assert key_resolve(user_id=user.pk, provider="openai").api_key == "sk-new-key-0000000000000"


def test_a_key_removed_by_another_process_is_gone_after_the_cache_seconds(
    user, no_system_keys, clock, django_assert_num_queries
):
    key_store(user=user, provider="openai", api_key="sk-elsewhere-00000000000")
    key_resolve(user_id=user.pk, provider="openai")
    user.provider_keys.all().delete()  # as the web process would: this one is not told
    with django_assert_num_queries(0):
        key_resolve(user_id=user.pk, provider="openai")  # within the cache's seconds

    clock[0] += KEY_CACHE_SECONDS

    with pytest.raises(KeyMissing):
        key_resolve(user_id=user.pk, provider="openai")


def test_a_price_changed_elsewhere_applies_after_the_cache_seconds(clock):
    ModelPrice.objects.update_or_create(provider="openai", model="priced-model", defaults={
        "input_per_million": Decimal(1), "output_per_million": Decimal(1)})  # fmt: skip
    tokens = {"provider": "openai", "model": "priced-model", "prompt_tokens": 1_000_000,
              "completion_tokens": 0}  # fmt: skip
    assert accounting.cost_for(**tokens) == Decimal(1)
    ModelPrice.objects.filter(model="priced-model").update(input_per_million=Decimal(3))

    clock[0] += accounting.PRICE_CACHE_SECONDS

    assert accounting.cost_for(**tokens) == Decimal(3)


def test_a_price_edited_in_admin_applies_to_the_next_request_at_once(admin_client):
    price, _ = ModelPrice.objects.update_or_create(provider="openai", model="admin-model",
        defaults={"input_per_million": Decimal(1), "output_per_million": Decimal(1)})  # fmt: skip
    tokens = {"provider": "openai", "model": "admin-model", "prompt_tokens": 1_000_000,
              "completion_tokens": 0}  # fmt: skip
    assert accounting.cost_for(**tokens) == Decimal(1)

    changed = admin_client.post(f"/admin/llm/modelprice/{price.pk}/change/", {
        "provider": "openai", "model": "admin-model", "input_per_million": "2",
        "output_per_million": "1"})  # fmt: skip

    assert changed.status_code == 302
    assert accounting.cost_for(**tokens) == Decimal(2)


def test_a_mode_edited_in_admin_applies_to_the_next_request_at_once(admin_client):
    row = ModelCapability.objects.create(provider="groq", model="cached-model",
                                         structured_mode=capabilities.JSON_SCHEMA)  # fmt: skip
    assert capabilities.structured_mode("groq", "cached-model") == capabilities.JSON_SCHEMA

    changed = admin_client.post(f"/admin/llm/modelcapability/{row.pk}/change/", {
        "provider": "groq", "model": "cached-model",
        "structured_mode": capabilities.JSON_OBJECT})  # fmt: skip

    assert changed.status_code == 302
    assert capabilities.structured_mode("groq", "cached-model") == capabilities.JSON_OBJECT
