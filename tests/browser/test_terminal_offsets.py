"""A page opened while a command runs: the output so far comes with the page, and live
pieces that overlap it, follow it or leave a gap after it are joined without doubling or
losing anything. The pieces are published here, as the worker's relay would send them
(real Redis, the web server's socket, Chromium), so each case happens for certain. Its
own module: no worker runs, so nothing else takes the run."""

import json
import time

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from accounts.services import key_store
from generation.models import GenerationRun
from generation.publish import OutputRelay, publish_transient, unfinished_key
from generation.services import run_start
from tests.browser.test_terminal_live import _watching

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
COMMAND = "python3 -m unittest -v"


def test_overlapping_following_and_missed_pieces_are_joined_once(page, asgi_server):
    user, project = _watching(page, asgi_server, "offsets@example.com")
    key_store(user=user, provider="openai", api_key="sk-offsets-test-00000000001")
    run = run_start(project=project, user=user, provider="openai")
    GenerationRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now())
    relay = OutputRelay(project.pk, run.pk, COMMAND, every=0)
    relay("ёж one\n".encode())  # sent, and kept in Redis as the output so far
    _until_kept(run, "ёж one\n")
    page.reload()
    page.locator("#tab-terminal-tab").click()
    expect(page.locator("body[data-socket=open]")).to_be_attached()
    section = page.locator(f'#terminal [data-unfinished="{relay.field}"]')
    expect(section).to_have_text("ёж one\n")
    expect(page.locator("#terminal")).to_contain_text(f"$ {COMMAND}\nёж one\n")

    piece = {"type": "pipeline.output", "run": str(run.pk), "command": COMMAND,
             "execution": relay.field, "final": False}  # fmt: skip
    publish_transient(project.pk, {**piece, "offset": 3, "text": "one\ntwo\n"})  # overlaps
    expect(section).to_have_text("ёж one\ntwo\n")
    publish_transient(project.pk, {**piece, "offset": 11, "text": "three\n"})  # follows
    expect(section).to_have_text("ёж one\ntwo\nthree\n")
    # Sent while this page was not listening: the server has it, the page fetches it.
    _keep(run, relay, "ёж one\ntwo\nthree\nfour\n")
    publish_transient(project.pk, {**piece, "offset": 22, "text": "five\n"})
    expect(section).to_have_text("ёж one\ntwo\nthree\nfour\nfive\n")
    publish_transient(project.pk, {**piece, "offset": 27, "text": "six\n", "final": True})
    expect(section).to_have_text("ёж one\ntwo\nthree\nfour\nfive\nsix\n")
    assert page.locator("#terminal").text_content().count(f"$ {COMMAND}\n") == 1


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _until_kept(run: GenerationRun, text: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        with _client() as client:
            kept = [json.loads(value)["text"] for value in client.hvals(unfinished_key(run.pk))]
        if kept == [text]:
            return
        assert time.monotonic() < deadline, kept
        time.sleep(0.02)


def _keep(run: GenerationRun, relay: OutputRelay, text: str) -> None:
    value = {"command": COMMAND, "started": relay.unfinished.started, "text": text,
             "truncated": False}  # fmt: skip
    with _client() as client:
        client.hset(unfinished_key(run.pk), relay.field, json.dumps(value, ensure_ascii=False))
    _until_kept(run, text)
