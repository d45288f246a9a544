"""Live-only messages: a command's output batched to the project's channel, via real Redis."""

import asyncio
import uuid

from asgiref.sync import async_to_sync, sync_to_async

from generation.livefeed import LiveMessage, project_feed
from generation.publish import OutputRelay


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
