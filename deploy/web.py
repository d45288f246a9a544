"""The command of one web process (pages, API, WebSockets), for everything that starts one:
`make scale`'s cluster, the tests and the benchmarks. The Procfile (`make run`) names the
same server and options in its own syntax. No Django import here.

uvicorn on uvloop, with httptools parsing HTTP and the websockets library framing
sockets: per request and per socket message it costs a fraction of daphne's
(Twisted + autobahn); bench/api_load.py and bench/websocket.py measure both side by side.
A frame is a few hundred bytes of JSON sent to every socket of a project: compressing it
per socket (permessage-deflate, which browsers ask for) cost more CPU than it saved bytes.
Proxy headers are left to the app (core.ratelimit reads X-Forwarded-For as far as
SAMOKODER_TRUSTED_PROXIES allows), so the server never rewrites the client address.
"""

import sys

APP = "samokoder_site.asgi:application"
SERVER_OPTIONS = ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
                  "--ws-per-message-deflate", "false", "--no-proxy-headers",
                  "--lifespan", "off", "--backlog", "4096"]  # fmt: skip


def web_command(*, port: int | None = None, unix_socket: str | None = None,
                access_log: bool = True, server: str = "uvicorn",
                app: str = APP) -> list[str]:  # fmt: skip
    """The app on a TCP port of 127.0.0.1 or on a Unix socket. ``access_log=False`` behind
    a balancer that logs requests itself; ``server="daphne"`` is the server used before,
    kept for the benchmarks' side-by-side figures."""
    if server == "daphne":
        where = ["-u", unix_socket] if unix_socket else ["--bind", "127.0.0.1", "--port", str(port)]
        return [sys.executable, "-m", "daphne", *where, app]
    where = ["--uds", unix_socket] if unix_socket else ["--host", "127.0.0.1", "--port", str(port)]
    quiet = [] if access_log else ["--no-access-log"]
    return [sys.executable, "-m", "uvicorn", *where, *SERVER_OPTIONS, *quiet, app]
