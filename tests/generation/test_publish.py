"""Live-only messages: a command's output batched to the project's channel, via real Redis."""

import asyncio
import itertools
import time
import uuid

import redis
from asgiref.sync import async_to_sync, sync_to_async

from generation.livefeed import LiveMessage, project_feed
from generation.publish import OutputRelay, _Sender, publish_transient


def relayed(project_id, feed, count: int) -> list[dict]:
    """Run ``feed()`` (the worker's side, in a thread) and collect ``count`` messages."""

    async def scenario():
        received: asyncio.Queue[LiveMessage] = asyncio.Queue()
        await project_feed().join(project_id, received.put_nowait)
        await sync_to_async(feed, thread_sensitive=False)()
        messages = [(await received.get()).body for _ in range(count)]
        await project_feed().leave(project_id, received.put_nowait)
        return messages

    return async_to_sync(scenario)()


def test_output_is_batched_decoded_across_chunks_and_capped():
    project_id, run_id = uuid.uuid4(), uuid.uuid4()
    relay = OutputRelay(project_id, run_id, "python3 -m unittest", every=3600, limit=10)

    def feed():
        relay(b"\xd0")  # the first half of "Я": not text yet, so nothing is sent
        relay(b"\xaf ok ")  # "Я ok " goes at once: nothing was sent before
        relay(b"and much more than ten bytes")  # waits for the close, cut at 10 bytes
        relay.close()

    first, last = relayed(project_id, feed, 2)
    assert first["text"] == "Я ok " and first["final"] is False
    assert last["text"] == "and " and last["final"] is True  # 2 + 4 + 4 bytes
    assert last["command"] == "python3 -m unittest" and last["run"] == str(run_id)
    assert last["type"] == "pipeline.output"


def test_without_a_pause_every_chunk_is_sent():
    project_id = uuid.uuid4()
    relay = OutputRelay(project_id, uuid.uuid4(), "ls", every=0)

    def feed():
        for part in (b"a\n", b"b\n", b"c\n"):
            relay(part)
        relay.close()

    messages = relayed(project_id, feed, 4)
    assert [m["text"] for m in messages] == ["a\n", "b\n", "c\n", ""]
    assert [m["final"] for m in messages] == [False, False, False, True]


def test_output_held_back_by_the_batching_goes_out_on_time_while_the_command_is_quiet():
    project_id = uuid.uuid4()
    relay = OutputRelay(project_id, uuid.uuid4(), "sh -c …", every=0.2)

    async def scenario():
        received: asyncio.Queue[tuple[float, dict]] = asyncio.Queue()

        def arrived(message: LiveMessage) -> None:
            received.put_nowait((time.monotonic(), message.body))

        await project_feed().join(project_id, arrived)

        def feed():
            relay(b"one\n")  # sent at once: nothing was sent before
            relay(b"two\n")  # within `every` of it: held back
            time.sleep(1.5)  # the command works and prints nothing
            relay(b"three\n")
            relay.close()

        finished = asyncio.ensure_future(sync_to_async(feed, thread_sensitive=False)())
        messages = []
        while not messages or not messages[-1][1]["final"]:
            messages.append(await asyncio.wait_for(received.get(), timeout=10))
        await finished
        await project_feed().leave(project_id, arrived)
        return messages

    messages = async_to_sync(scenario)()
    texts = [body["text"] for _at, body in messages]
    assert "".join(texts) == "one\ntwo\nthree\n"  # in order, nothing lost or doubled
    two_at = next(at for at, body in messages if "two" in body["text"])
    three_at = next(at for at, body in messages if "three" in body["text"])
    assert three_at - two_at > 1.0  # "two" came about 0.2 s after it was printed, not at the end
    assert len({body["execution"] for _at, body in messages}) == 1
    # At most one message per `every`, the final one (on close) aside.
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(messages[:-1])]
    assert all(gap >= 0.15 for gap in gaps), gaps


def test_each_relay_names_its_own_execution_so_a_rerun_is_kept_apart():
    project_id = uuid.uuid4()
    first = OutputRelay(project_id, uuid.uuid4(), "ls", every=0)
    again = OutputRelay(project_id, uuid.uuid4(), "ls", every=0)

    def feed():
        first(b"a\n")  # a worker killed here never closes it
        again(b"a\n")
        again.close()

    messages = relayed(project_id, feed, 3)
    assert messages[0]["execution"] != messages[1]["execution"] == messages[2]["execution"]


def test_messages_sent_in_a_burst_arrive_once_each_and_in_order():
    project_id = uuid.uuid4()

    def feed():  # faster than Redis answers: the sender's turns carry several at once
        for i in range(300):
            publish_transient(project_id, {"type": "pipeline.activity", "i": i})

    assert [m["i"] for m in relayed(project_id, feed, 300)] == list(range(300))


def test_a_redis_outage_is_logged_never_raised_and_the_sender_goes_on(settings, caplog):
    working = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    sender = _Sender()
    settings.REDIS_URL = working

    started = time.monotonic()
    sender.send(uuid.uuid4(), {"type": "pipeline.activity"})
    assert time.monotonic() - started < 0.5  # queued, not sent by the caller
    deadline = time.monotonic() + 10
    while "live messages not sent" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "live messages not sent: 1" in caplog.text

    sender.redis = redis.Redis.from_url(working)  # Redis is back: the same thread sends
    project_id = uuid.uuid4()
    [message] = relayed(project_id, lambda: sender.send(project_id, {"after": "outage"}), 1)
    assert message["after"] == "outage"
