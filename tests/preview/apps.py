"""Small web apps for preview tests, standard library only (no install needed)."""

from files.services import files_commit
from generation.schemas import Architecture, PipelineState

# A to-do page: GET / lists, POST / adds (a form), /cookies echoes what the app receives.
TODO_APP = """\
import html
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ITEMS = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/cookies":
            return self.answer(200, self.headers.get("Cookie", ""), "text/plain")
        items = "".join(f"<li>{html.escape(item)}</li>" for item in ITEMS)
        page = (
            "<!doctype html><title>Todo</title><h1>Todo</h1>"
            '<form method="post"><input name="title" aria-label="title">'
            "<button>Add</button></form>"
            f'<ul id="items">{items}</ul>'
        )
        self.answer(200, page, "text/html; charset=utf-8")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        ITEMS.extend(form.get("title", []))
        self.send_response(303)
        self.send_header("Location", "/")
        self.end_headers()

    def answer(self, status, text, kind):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request", self.command, self.path, flush=True)


print("listening on", os.environ["PORT"], flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def server_step(branch, *, files: dict[str, str], run_command: str, port: int | None,
                runtime: str = "python3"):  # fmt: skip
    """A step holding ``files`` and an architecture naming the server (or none)."""
    architecture = Architecture.model_validate({
        "runtime": runtime, "summary": "a test app",
        "files": [{"path": path, "purpose": "test"} for path in files],
        "test_command": "true", "run_command": run_command if port else "", "port": port,
    })  # fmt: skip
    data = PipelineState(architecture=architecture).model_dump(mode="json")
    return files_commit(branch=branch, changes=dict(files), data=data)
