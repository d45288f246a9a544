"""Publishing committed pipeline events to the project's live channel (generation.livefeed).

The PipelineEvent log is the source of truth: a browser that misses a message (or was
not connected) replays the log from its last sequence number. So publishing is best
effort: a Redis outage is logged, never allowed to fail the run.
"""

import codecs
import contextlib
import functools
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from redis import asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from generation.livefeed import encode, project_channel

logger = logging.getLogger(__name__)


def publish_after_commit(project_id: uuid.UUID | str, rows: Iterable) -> None:
    """Once the current transaction commits, send the rows' messages as one batch."""
    messages = [row.message() for row in rows]
    if messages:
        transaction.on_commit(lambda: publish(project_id, messages))


# What the sending thread runs: it adds Redis commands to a pipeline.
Command = Callable[[redis.client.Pipeline], object]


class _Sender:
    """One thread for this process's publishing. Callers only queue what is to be sent
    (never waiting for Redis); each turn of the thread sends everything queued by then
    as one pipeline, one round trip, in the order it was asked for.

    A plain thread with redis-py's blocking client: the event loop it replaced (a wake-up
    through the loop's socket, a coroutine, a future and a lock for every message) took
    a pipeline step about 1.5 ms of the worker's interpreter for its four or so
    messages (bench/pipeline.py, 2026-12-01). Made lazily, and again after a fork.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        # No retries: a batch Redis did not take is dropped (logged), not sent twice or
        # late; the next turn tries again with what came since.
        self.redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=SEND_TIMEOUT,
                                          socket_connect_timeout=SEND_TIMEOUT,
                                          retry=Retry(NoBackoff(), 0))  # fmt: skip
        self.queue: queue.SimpleQueue[Command] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="publish", daemon=True).start()

    def send(self, project_id: uuid.UUID | str, message: dict) -> None:
        channel, data = project_channel(project_id), encode(message)
        self.submit(lambda pipe: pipe.publish(channel, data))

    def submit(self, command: Command) -> None:
        """Queue ``command`` (it adds to a redis-py pipeline), after what came before."""
        self.queue.put(command)

    def _run(self) -> None:
        while True:
            commands = [self.queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    commands.append(self.queue.get_nowait())
            try:
                with self.redis.pipeline(transaction=False) as pipe:
                    for command in commands:
                        command(pipe)
                    pipe.execute()
            except Exception:
                logger.warning("live messages not sent: %d", len(commands), exc_info=True)


async def live_publish(project_id: uuid.UUID | str, message: dict) -> None:
    """Publish one message to the project's sockets from async code (its own connection)."""
    async with aioredis.Redis.from_url(settings.REDIS_URL) as redis:
        await redis.publish(project_channel(project_id), encode(message))


SEND_TIMEOUT = 5.0
READ_TIMEOUT = 1.0  # a page reading what a running command printed so far
_sender: _Sender | None = None
_sender_lock = threading.Lock()


def _the_sender() -> _Sender:
    global _sender
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender()
        return _sender


def _send(project_id: uuid.UUID | str, message: dict) -> None:
    _the_sender().send(project_id, message)


def publish(project_id: uuid.UUID | str, messages: list[dict]) -> None:
    """The step's events in one message to the project's sockets (best effort).

    Never waits for Redis: a web request that answered or stopped a run must not stall
    on it, and the worker's next step needs nothing from the send.
    """
    try:
        message = {"type": "pipeline.events", "events": messages}
        _send(project_id, message)
    except Exception:
        logger.warning("publishing %d events for project %s failed", len(messages), project_id,
                       exc_info=True)  # fmt: skip


def publish_transient(project_id: uuid.UUID | str, message: dict) -> None:
    """A message that is not in the log (what an agent is doing, a command's output so
    far): shown live, never replayed; what matters is in the next step's events.

    Never waits for Redis either (a step paid 1-3 ms a call for the wait): the messages
    still leave in the order they were asked for."""
    try:
        _send(project_id, message)
    except Exception:
        logger.warning("live message for project %s not sent", project_id, exc_info=True)


class LiveBatch:
    """Live-only text for the project's sockets, in batches: the first piece at once, then
    at most one message every ``every`` seconds, and the rest (``final``) on close.
    Never waits for the send, so neither the thread watching a command nor an event loop
    stalls. Each message says where its text starts (``offset``, in characters), so a
    page that has part of it already (from the server) adds only the rest."""

    def __init__(self, project_id, message: dict, every: float = 0.25,
                 on_sent: Callable[[str, bool], None] | None = None) -> None:  # fmt: skip
        self.project_id, self.message, self.every = project_id, message, every
        self.on_sent = on_sent  # sees each piece sent (and whether it was the last)
        self.pending = ""
        self.sent_at: float | None = None
        self.offset = 0  # characters sent so far

    def add(self, text: str) -> None:
        self.pending += text
        due = self.sent_at is None or time.monotonic() - self.sent_at >= self.every
        if self.pending and due:
            self._send(final=False)

    def flush(self) -> None:
        """Send what waits, if anything: text must not wait for more text that may never
        come (an app that printed its banner and went quiet)."""
        if self.pending:
            self._send(final=False)

    def close(self) -> None:
        self._send(final=True)

    def _send(self, *, final: bool) -> None:
        message = {**self.message, "text": self.pending, "final": final, "offset": self.offset}
        self.pending, self.sent_at = "", time.monotonic()
        self.offset += len(message["text"])
        try:
            _send(self.project_id, message)
            if self.on_sent is not None:
                self.on_sent(message["text"], final)
        except Exception:
            logger.warning("live text for project %s not sent", self.project_id, exc_info=True)


class OutputRelay:
    """A running command's output to the browser (a LiveBatch), at most ``limit`` bytes in
    all (the ExecutionLog keeps the whole), never cut inside a UTF-8 character.

    Fed by the thread that watches the command (bubblewrap) or reads its stream (Docker),
    and closed by the step's own thread, so it locks. Its own thread sends what the
    batching holds back once ``every`` seconds have passed since the last send: a test
    that prints a line and then works for a minute shows that line now, not at its end.
    Each relay names its execution, so the page keeps a rerun of the same command (after
    a worker restart) apart from the unfinished output of the run before.

    What it has sent is also kept in Redis under the run (see ``outputs_unfinished_take``)
    until it closes: the ExecutionLog then holds the whole. A worker that dies in the
    command leaves it there for the run's next worker to keep as the interrupted attempt.
    """

    def __init__(self, project_id, run_id, command: str, every: float = 0.25,
                 limit: int = 64_000) -> None:  # fmt: skip
        execution = uuid.uuid4().hex
        message = {"type": "pipeline.output", "run": str(run_id), "command": command,
                   "execution": execution}  # fmt: skip
        self.unfinished = UnfinishedOutput(command=command, started=time.time())
        self.key, self.field = unfinished_key(run_id), execution
        self.batch = LiveBatch(project_id, message, every, on_sent=self._keep)
        self.left = limit
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.flusher: threading.Thread | None = None
        if every > 0:  # at 0 every piece goes at once and nothing is held back
            self.flusher = threading.Thread(target=self._flush_on_time, name="output-flush",
                                            daemon=True)  # fmt: skip
            self.flusher.start()

    def __call__(self, chunk: bytes) -> None:
        with self.lock:
            self.unfinished.truncated |= len(chunk) > self.left
            chunk = chunk[: max(self.left, 0)]
            self.left -= len(chunk)
            self.batch.add(self.decoder.decode(chunk))

    def _keep(self, text: str, final: bool) -> None:
        """The text so far to Redis after each piece sent (at most ``limit`` bytes), in
        the order of the sends; gone once the command has ended."""
        sender, key, field = _the_sender(), self.key, self.field
        if final:
            sender.submit(lambda pipe: pipe.hdel(key, field))
            return
        self.unfinished.text += text
        kept = {name: value for name, value in vars(self.unfinished).items() if name != "execution"}
        value = json.dumps(kept, ensure_ascii=False)
        sender.submit(lambda pipe: _keep_field(pipe, key, field, value))

    def _flush_on_time(self) -> None:
        wait = self.batch.every
        while not self.closed.wait(wait):
            with self.lock:
                if self.closed.is_set():
                    return  # close() sends the rest, as the final message
                since = time.monotonic() - (self.batch.sent_at or 0.0)
                if since >= self.batch.every:
                    self.batch.flush()
                    since = 0.0
                wait = self.batch.every - since

    def close(self) -> None:
        with self.lock:
            self.closed.set()
            self.batch.add(self.decoder.decode(b"", final=True))
            self.batch.close()
        if self.flusher is not None:
            self.flusher.join()


class TextRelay:
    """An agent's answer as it streams in (a LiveBatch); called on the LLM call's loop."""

    def __init__(self, project_id, run_id, agent: str, detail: str = "") -> None:
        message = {"type": "pipeline.stream", "run": str(run_id), "agent": agent,
                   "detail": detail}  # fmt: skip
        self.batch = LiveBatch(project_id, message)

    async def __call__(self, text: str) -> None:
        self.batch.add(text)

    def close(self) -> None:
        self.batch.close()


UNFINISHED_PREFIX = "samokoder:output:run:"
# A day: the run's next worker takes it within SAMOKODER_RUN_STALE_SECONDS and a sweep
# (minutes); a run nobody resumes or stops by then loses only this partial text.
UNFINISHED_KEEP = 86_400


def unfinished_key(run_id: uuid.UUID | str) -> str:
    return f"{UNFINISHED_PREFIX}{run_id}"


@dataclass
class UnfinishedOutput:
    """A command's output as far as it was sent, kept while the command runs."""

    command: str
    started: float  # epoch seconds
    text: str = ""
    truncated: bool = False  # the relay's limit cut it
    execution: str = ""  # its field in the run's hash (the relay's), not in the JSON kept


def _keep_field(pipe: redis.client.Pipeline, key: str, field: str, value: str) -> None:
    # Not in MULTI: a batch that fails part way may leave the hash without its expiry;
    # the next piece sent, or the run's next claim (which deletes it), sets it right.
    pipe.hset(key, field, value)
    pipe.expire(key, UNFINISHED_KEEP)


def outputs_unfinished_take(*, run_id: uuid.UUID | str) -> list[UnfinishedOutput]:
    """The output of the run's commands that never ended (their worker died), oldest
    first, removed from Redis. Best effort: [] when Redis cannot be read."""
    return _unfinished(run_id, take=True, timeout=SEND_TIMEOUT)


def outputs_unfinished_read(*, run_id: uuid.UUID | str) -> list[UnfinishedOutput]:
    """The output so far of the run's commands that have not ended, oldest first, left in
    Redis (for a page loaded while one runs). Best effort: [] when Redis cannot be read
    within a second (the page is not held up for it)."""
    return _unfinished(run_id, take=False, timeout=READ_TIMEOUT)


@functools.lru_cache(maxsize=8)
def _client(url: str, timeout: float) -> redis.Redis:
    """A client and its connection pool, kept: a page re-rendered while a command runs
    reads the output so far each time, and a new connection was a round trip more."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def _unfinished(run_id: uuid.UUID | str, *, take: bool, timeout: float) -> list[UnfinishedOutput]:
    key = unfinished_key(run_id)
    try:
        with _client(settings.REDIS_URL, timeout).pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            if take:
                pipe.delete(key)
            kept = pipe.execute()[0]
    except redis.RedisError:
        logger.warning("the unfinished output of run %s was not read", run_id, exc_info=True)
        return []
    outputs = []
    for field, value in kept.items():
        try:  # kept by another release of the worker, perhaps: skipped, never in the way
            outputs.append(UnfinishedOutput(**json.loads(value), execution=field.decode()))
        except (TypeError, ValueError):
            logger.warning("unreadable unfinished output of run %s skipped", run_id)
    return sorted(outputs, key=lambda output: output.started)
