"""Django's pages and API under ASGI with one thread hop a request instead of four.

Django's own ASGIHandler runs the middleware chain in async mode. Ours (and most of
Django's) are sync, so a request went: loop -> a new thread made for the request (the
sync middleware) -> back to the loop (the async handler inside them) -> that thread
again (the sync view), and request_started / request_finished hopped once more each.
The thread per request also meant a new database connection per request, whatever
CONN_MAX_AGE says. Profiled under wrk (bench/api_load.py, py-spy), the hops and the
connects were about a third of a request's CPU time.

Here the whole request, signals included, runs synchronously, as under WSGI, in one call
to a small fixed pool of threads that keep their database connections; only reading the
body and sending the response happen on the event loop.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

# Threads per process. Python runs one at a time; more than a few only helps while
# requests wait on the database, and each holds a database connection.
THREADS = 4


class HTTPHandler(ASGIHandler):
    """An ASGI app for Django's HTTP requests (``samokoder_site.asgi`` routes them here)."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)  # not ASGIHandler's: that loads an async chain
        self.load_middleware(is_async=False)
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP here, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self.pool, self._respond, scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:  # closed once its content is sent
                    await loop.run_in_executor(self.pool, response.close)
        finally:
            body_file.close()

    def _respond(self, scope, body_file) -> HttpResponseBase:
        """The request from start to finish, in this thread, as the WSGI handler does it;
        a streaming response is closed by the caller once sent."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        assert response is not None  # create_request gives a request or a response
        if not response.streaming:
            response.close()  # request_finished: this thread's connections are looked after
        return response
