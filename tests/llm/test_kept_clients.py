"""SDK clients kept on the worker's long-lived loop (llm.providers.pool): one user's calls
share a client and its connection; another user's key never rides on it.

The gateway runs on the process's loop (core.loop) as the worker's agent calls do, with
the real SDK clients over HTTP against the replay server; the replay server records
which key each request carried and on which connection (the client's port) it came.
"""

import asyncio
import threading

import openai
import pytest

from accounts.services import key_store
from core.loop import LoopCaller
from llm.providers.pool import ClientPool, pool_here
from llm.services import CallContext, LLMGateway
from llm.types import Conversation, Message

pytestmark = pytest.mark.django_db

PROVIDERS = ["openai", "anthropic", "groq"]
MODELS = {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-6", "groq": "llama-3.3-70b-versatile"}
HELLO = Conversation((Message("user", "Say hello"),))


@pytest.fixture
def wired(replay, settings):
    settings.LLM_BASE_URLS = {"openai": f"{replay.url}/v1", "anthropic": replay.url,
                              "groq": replay.url}  # fmt: skip
    replay.load_dict({"version": 1, "responses": [{"text": "Hello!", "repeat": True}]})
    return replay


def kept_clients() -> int:
    async def count() -> int:
        pool = pool_here()
        assert pool is not None  # run() runs this on the process's loop
        return len(pool)

    return LoopCaller().run(count())


def ask(user, provider: str = "openai", agent: str = "SpecWriter") -> str:
    """One request through the gateway on the process's loop, as a worker's step makes it."""
    caller = LoopCaller()
    context = CallContext(user_id=user.pk, provider=provider, agent=agent, model=MODELS[provider])
    gateway = LLMGateway.prepare(context, sync=caller.sync)

    async def send() -> str:
        try:
            return (await gateway.send(HELLO)).text
        finally:
            await gateway.aclose()

    return caller.run(send())


def ports_by_key(requests: list[dict]) -> dict[str, set[int]]:
    ports: dict[str, set[int]] = {}
    for request in requests:
        ports.setdefault(request["api_key"], set()).add(request["client_port"])
    return ports


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_calls_of_one_user_share_one_client_and_its_connection(wired, user, provider):
    key_store(user=user, provider=provider, api_key=f"sk-one-user-{provider}-000000000")
    before = kept_clients()

    assert ask(user, provider) == ask(user, provider) == "Hello!"

    assert kept_clients() == before + 1
    first, second = wired.requests
    assert first["client_port"] == second["client_port"]  # no new connection either


@pytest.mark.django_db(transaction=True)  # each caller thread reads the keys on its own connection
def test_two_users_keys_never_share_a_client_even_at_once(wired, user, other_user):
    wired.load_dict({"version": 1, "responses": [
        {"text": "Hello!", "repeat": True, "fault": {"delay": 0.2}}]})  # fmt: skip
    keys = {user.pk: "sk-first-user-key-000000001", other_user.pk: "sk-second-user-key-00000002"}
    for person in (user, other_user):
        key_store(user=person, provider="openai", api_key=keys[person.pk])
    agents = {f"Agent{person.pk}": person for person in (user, other_user)}

    def three_calls(agent: str) -> None:
        for _ in range(3):
            ask(agents[agent], agent=agent)

    threads = [threading.Thread(target=three_calls, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    requests = wired.requests
    assert len(requests) == 6
    for request in requests:  # each carried the key of the user whose call it was
        assert request["api_key"] == keys[agents[request["agent"]].pk]
    ports = ports_by_key(requests)
    assert not ports[keys[user.pk]] & ports[keys[other_user.pk]]  # never one connection


def test_a_replaced_key_is_sent_at_once_not_the_kept_client_of_the_old_one(wired, user):
    key_store(user=user, provider="openai", api_key="sk-old-kept-key-00000000001")
    ask(user)

    key_store(user=user, provider="openai", api_key="sk-new-kept-key-00000000002")
    ask(user)

    sent = [request["api_key"] for request in wired.requests]
    assert sent == ["sk-old-kept-key-00000000001", "sk-new-kept-key-00000000002"]


def sdk_client(name: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=f"sk-{name}", base_url="http://127.0.0.1:9/v1")


def test_past_its_size_the_pool_closes_the_least_recently_used_free_client():
    async def scenario() -> None:
        pool = ClientPool(size=2, idle_seconds=3600)
        first = pool.acquire("first", lambda: sdk_client("first"))
        pool.release("first")
        held = pool.acquire("held", lambda: sdk_client("held"))
        third = pool.acquire("third", lambda: sdk_client("third"))
        pool.release("third")
        await asyncio.sleep(0)  # the close runs as a task on the loop
        assert first.is_closed() and not held.is_closed() and not third.is_closed()

        fourth = pool.acquire("fourth", lambda: sdk_client("fourth"))
        await asyncio.sleep(0)
        # "held" is the least recently used, but a call holds it: the free one goes.
        assert third.is_closed() and not held.is_closed() and not fourth.is_closed()
        assert pool.acquire("held", lambda: sdk_client("other")) is held

    asyncio.run(scenario())


def test_a_client_left_unused_is_closed_after_the_idle_seconds():
    async def scenario() -> None:
        pool = ClientPool(size=8, idle_seconds=0.05)
        idle = pool.acquire("idle", lambda: sdk_client("idle"))
        busy = pool.acquire("busy", lambda: sdk_client("busy"))
        pool.release("idle")

        await asyncio.sleep(0.2)

        assert idle.is_closed() and not busy.is_closed()
        assert len(pool) == 1

    asyncio.run(scenario())
