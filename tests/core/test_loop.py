"""The process's long-lived event loop (core.loop): sync work comes back to the caller's
thread, an interrupted caller cancels its coroutine, and a forked child (Celery's prefork
pool) runs a loop of its own while its parent's keeps working. The fork test sends real
SDK requests to the replay server from both processes."""

import asyncio
import json
import os
import threading

import pytest

from core.loop import LoopCaller, process_loop
from llm.providers.registry import client_for
from llm.types import Conversation, Message, ProviderConfig

HELLO = Conversation((Message("user", "Say hello"),))


def test_the_coroutine_runs_on_the_loop_and_its_sync_work_on_the_calling_thread():
    caller = LoopCaller()

    async def where() -> tuple[int, int]:
        return threading.get_ident(), await caller.sync(threading.get_ident)

    loop_thread, sync_thread = caller.run(where())

    assert loop_thread == process_loop().thread.ident != threading.get_ident()
    assert sync_thread == threading.get_ident()


def test_an_error_of_the_sync_work_reaches_the_coroutine_and_then_the_caller():
    caller = LoopCaller()
    seen: list[str] = []

    def refuse() -> None:
        raise LookupError("no such row")

    async def ask() -> None:
        try:
            await caller.sync(refuse)
        except LookupError as exc:
            seen.append(str(exc))
            raise

    with pytest.raises(LookupError):
        caller.run(ask())
    assert seen == ["no such row"]


def test_a_caller_interrupted_while_waiting_cancels_its_coroutine():
    caller = LoopCaller()
    cancelled = threading.Event()

    def interrupted() -> None:
        raise KeyboardInterrupt  # as a signal handler would raise it in the waiting thread

    async def ask() -> None:
        try:
            await caller.sync(interrupted)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(KeyboardInterrupt):
        caller.run(ask())
    assert cancelled.wait(5)


def test_run_refuses_to_block_a_running_loop():
    async def inside() -> None:
        coroutine = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="await the coroutine"):
            LoopCaller().run(coroutine)

    asyncio.run(inside())


def _ask(config: ProviderConfig, agent: str) -> dict:
    """One real SDK request on the process's loop, and where it ran."""

    async def ask() -> dict:
        adapter = client_for(config)
        try:
            completion = await adapter.complete(HELLO, agent=agent)
        finally:
            await adapter.aclose()
        return {"text": completion.text, "loop_pid": process_loop().pid,
                "loop_thread_alive": process_loop().thread.is_alive()}  # fmt: skip

    return LoopCaller().run(ask())


def _in_child(config: ProviderConfig) -> dict:
    """Fork; the child asks once through its own loop and reports back through a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave at once (no test teardown here)
        try:
            report = _ask(config, "Child")
        except BaseException as exc:  # the parent fails the test with it
            report = {"error": repr(exc)}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = json.loads(pipe.read() or b'{"error": "no report"}')
    os.waitpid(pid, 0)
    return report


@pytest.mark.timeout(60)
def test_a_forked_child_runs_its_own_loop_and_leaves_its_parents_connection(replay):
    replay.load_dict({"version": 1, "responses": [{"text": "Hello!", "repeat": True}]})
    config = ProviderConfig(provider="openai", api_key="sk-fork-test-0000000000000",
                            model="gpt-4.1", base_url=f"{replay.url}/v1", timeout=10)  # fmt: skip

    parent_before = _ask(config, "Parent")
    child = _in_child(config)
    parent_after = _ask(config, "Parent")

    assert "error" not in child, child["error"]
    assert child["text"] == parent_before["text"] == parent_after["text"] == "Hello!"
    assert child["loop_pid"] != os.getpid() == parent_before["loop_pid"]
    assert child["loop_thread_alive"]
    ports = {request["agent"]: [] for request in replay.requests}
    for request in replay.requests:
        ports[request["agent"]].append(request["client_port"])
    # The child opened its own connection; the parent's kept one still serves the parent.
    assert ports["Parent"][0] == ports["Parent"][1] != ports["Child"][0]
