"""One event loop per process, in a daemon thread, for the async calls of sync code.

A pipeline step is sync code (the ORM, the sandbox); the LLM SDKs are async. Called through
``async_to_sync``, each agent call made a thread, an event loop and, since a connection
pool belongs to the loop that opened it, a new SDK client and connection. The loop here
lives as long as the process, so what is bound to a loop (SDK clients, their pools) is
kept from one call to the next (llm.providers.pool).

``LoopCaller`` is the sync side of one call: it hands a coroutine to the loop and, while
it waits, runs on its own thread the sync work the coroutine hands back
(``await caller.sync(function, ...)``). The ORM then keeps that thread's connection and
transaction, as under ``async_to_sync`` (Django refuses ORM calls from a thread running a
loop anyway).

The loop is made on first use in the process that uses it. A forked child (Celery's
prefork pool) has no thread running its parent's loop: it forgets that loop, and the
SDK clients with it, and makes its own.
"""

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

Result = TypeVar("Result")
Params = ParamSpec("Params")


class ProcessLoop:
    """The loop and the daemon thread that runs it."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="process-loop",
                                       daemon=True)  # fmt: skip
        self.thread.start()


_current: ProcessLoop | None = None
_lock = threading.Lock()
# A parent's loop, kept referenced in the child and never touched: closing it (or letting
# the collector do so) would act on descriptors the parent still uses.
_inherited: list[ProcessLoop] = []


def process_loop() -> ProcessLoop:
    """This process's loop, started on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = ProcessLoop()
        return _current


def on_process_loop() -> bool:
    """Whether the code asking runs on this process's loop (not on a loop of its own)."""
    current = _current
    if current is None:
        return False
    try:
        return asyncio.get_running_loop() is current.loop
    except RuntimeError:
        return False


def _forget_after_fork() -> None:
    global _current, _lock
    if _current is not None:
        _inherited.append(_current)
    _current = None
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork


os.register_at_fork(after_in_child=_forget_after_fork)


class LoopCaller:
    """One sync thread's call into the process's loop: ``run`` a coroutine there, and
    meanwhile do the sync work it hands back with ``sync``.

    One ``run`` per caller. If the waiting thread is interrupted (a time limit, Ctrl-C),
    the coroutine is cancelled and its later ``sync`` calls raise.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._waiting = True

    def run(self, coroutine: Coroutine[Any, Any, Result]) -> Result:
        """``coroutine``'s result (or its exception), run on the process's loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError("LoopCaller.run is for sync code: await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, process_loop().loop)
        future.add_done_callback(lambda _: self._jobs.put(None))
        try:
            while (job := self._jobs.get()) is not None:
                job()
        except BaseException:
            future.cancel()
            raise
        finally:
            self._waiting = False
        return future.result()

    async def sync(
        self, function: Callable[Params, Result], /, *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        """``function(*args, **kwargs)`` on the thread waiting in ``run`` (await it on the loop)."""
        if not self._waiting:
            raise RuntimeError("the calling thread no longer waits for this call")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Result] = loop.create_future()

        def job() -> None:
            try:
                result = function(*args, **kwargs)
            except Exception as exc:  # the coroutine's to handle; anything else stops run()
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, result, None)

        self._jobs.put(job)
        return await done


def _settle(done: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if done.cancelled():
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)
