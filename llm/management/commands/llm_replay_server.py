"""`manage.py llm_replay_server`: serve a replay transcript to the LLM SDKs until Ctrl-C."""

import contextlib
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import ValidationError

from llm.replay import ReplayServer, Transcript, load_transcript

DEFAULT_HOST = "127.0.0.1"


class Command(BaseCommand):
    help = (
        "Answer the OpenAI, Anthropic and Groq SDKs from a replay transcript on a local port "
        "(point their base_url at the printed URL). Binds loopback unless --host is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--transcript", help="transcript JSON file (default: empty)")
        parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        parser.add_argument(
            "--host",
            default=None,
            help=f"address to bind (default {DEFAULT_HOST}); a non-loopback one exposes "
            "recorded API keys to the network, so it must be asked for explicitly",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        transcript = _read_transcript(options["transcript"])
        host = options["host"] or DEFAULT_HOST
        server = ReplayServer(
            transcript, host=host, port=options["port"], allow_remote=options["host"] is not None
        )
        try:
            server.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{options['port']}: {exc}") from exc
        self.stdout.write(f"LLM replay server listening on {server.url}")
        self.stdout.write(f"{server.remaining()} transcript entries; stop with Ctrl-C")
        self.stdout.flush()
        try:
            _wait_for_stop_signal()
        finally:
            server.stop()
        self.stdout.write("LLM replay server stopped")


def _read_transcript(path: str | None) -> Transcript:
    if path is None:
        return Transcript()
    try:
        return load_transcript(path)
    except (OSError, ValidationError) as exc:
        raise CommandError(f"cannot load transcript {path}: {exc}") from exc


def _wait_for_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM, so a supervisor's stop is a clean one too."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
