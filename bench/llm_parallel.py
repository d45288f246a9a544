"""ParallelLLMRequests against sequential requests, side by side in one run (issue 4).

16 requests to the replay server, each answered after 1 s, sent one after another and
then 8 at a time through the same gateway (real SDK client, recording every request).

    python bench/llm_parallel.py
"""

import time

from setup import django_on_fresh_database

REQUESTS, LATENCY, CONCURRENCY = 16, 1.0, 8


def run() -> None:
    from asgiref.sync import async_to_sync
    from django.conf import settings

    from accounts.models import User
    from accounts.services import key_store
    from llm.models import LLMRequest
    from llm.replay import ReplayServer
    from llm.services import CallContext, LLMGateway
    from llm.types import Conversation, Message

    user = User.objects.create_user(email="bench@example.com", password="bench-password")
    key_store(user=user, provider="openai", api_key="sk-bench-key-0000000001")
    conversation = Conversation((Message("user", "Write one line."),))
    with ReplayServer() as server:
        server.load_dict(
            {
                "version": 1,
                "responses": [{"text": "ok", "repeat": True, "fault": {"delay": LATENCY}}],
            }
        )
        settings.LLM_BASE_URLS = {**settings.LLM_BASE_URLS, "openai": f"{server.url}/v1"}
        gateway = async_to_sync(LLMGateway.open)(
            CallContext(user_id=user.pk, provider="openai", agent="Bench", model="gpt-4.1")
        )

        started = time.perf_counter()
        for _ in range(REQUESTS):
            async_to_sync(gateway.send)(conversation)
        sequential = time.perf_counter() - started

        started = time.perf_counter()
        async_to_sync(gateway.send_many)([conversation] * REQUESTS, CONCURRENCY)
        parallel = time.perf_counter() - started

    print(f"{REQUESTS} requests, {LATENCY:g} s latency each, concurrency {CONCURRENCY}")
    print(f"sequential: {sequential:.2f} s wall")
    print(f"parallel:   {parallel:.2f} s wall")
    print(f"speed-up:   {sequential / parallel:.1f}x")
    print(f"recorded:   {LLMRequest.objects.count()} LLMRequest rows")


if __name__ == "__main__":
    django_on_fresh_database("llm")
    run()
