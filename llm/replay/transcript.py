"""Replay transcripts: the answers the replay server hands out, in what order, and as what.

A transcript is a JSON file::

    {"version": 1,
     "responses": [
       {"text": "Hello", "agent": "SpecWriter", "provider": "openai",
        "usage": {"prompt_tokens": 12, "completion_tokens": 3}},
       {"fault": {"status": 429, "retry_after": 1.0}},
       {"text": "always this", "repeat": true}
     ]}

Entries are consumed in order. An entry with ``agent`` (or ``provider``) set only answers a
request from that agent (over that wire format); the first unconsumed entry that fits the
request wins. Unknown keys are rejected so that a typo in a test fails loudly instead of
silently replaying the wrong thing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# "groq" is told apart from "openai" by path: the Groq SDK posts to /openai/v1/...
Provider = Literal["openai", "anthropic", "groq"]


class Fault(BaseModel):
    """What goes wrong with an answer; fields combine (a delay, then the rest)."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    message: str | None = None
    delay: float = Field(default=0.0, ge=0)
    malformed: bool = False
    cut_stream_after: int | None = Field(default=None, ge=0)


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    agent: str | None = None
    provider: Provider | None = None
    usage: Usage | None = None
    fault: Fault | None = None
    # The answer stops at the token limit: finish_reason "length" (OpenAI, Groq),
    # stop_reason "max_tokens" (Anthropic).
    truncated: bool = False
    repeat: bool = False
    # Only answers a request whose body contains this text: concurrent requests from one
    # agent (parallel CodeMonkeys) then get their own answers whatever order they arrive in.
    match: str | None = None
    # Only answers a request sent with this API key: runs of several users at once each
    # get their own transcript from one server.
    key: str | None = None

    def fits(
        self, *, agent: str | None, provider: Provider, body: str = "", key: str | None = None
    ) -> bool:
        """Whether this entry may answer a request from `agent` over `provider`'s format."""
        agent_fits = self.agent is None or self.agent == agent
        body_fits = self.match is None or self.match in body
        key_fits = self.key is None or self.key == key
        provider_fits = self.provider is None or self.provider == provider
        return agent_fits and body_fits and key_fits and provider_fits


class Transcript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    responses: list[Entry] = Field(default_factory=list)


def load_transcript(path: str | Path) -> Transcript:
    """Read and validate a transcript file (raises pydantic.ValidationError when invalid)."""
    return Transcript.model_validate_json(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Reply:
    """One entry rendered for one request: the text, and the token counts to report."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False

    @classmethod
    def build(cls, entry: Entry, *, model: str, prompt_chars: int) -> Reply:
        """Use the entry's usage, else a deterministic estimate of four characters a token."""
        if entry.usage is not None:
            prompt, completion = entry.usage.prompt_tokens, entry.usage.completion_tokens
        else:
            prompt, completion = max(prompt_chars // 4, 1), max(len(entry.text) // 4, 1)
        return cls(entry.text, model, prompt, completion, entry.truncated)

    def chunks(self) -> list[str]:
        """The text split after each run of whitespace, so one word (and its gap) a chunk."""
        return [part for part in re.split(r"(?<=\s)(?=\S)", self.text) if part] or [""]


@dataclass(frozen=True)
class StreamPlan:
    """A streamed answer as wire frames: `cut_stream_after` keeps the preamble and N chunks."""

    preamble: list[bytes]
    chunks: list[bytes]
    tail: list[bytes]

    def frames(self, cut_after: int | None = None) -> list[bytes]:
        if cut_after is None:
            return self.preamble + self.chunks + self.tail
        return self.preamble + self.chunks[:cut_after]


class ReplayQueue:
    """The unconsumed entries of a transcript; safe to use from several threads."""

    def __init__(self, transcript: Transcript | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self.replace(transcript or Transcript())

    def replace(self, transcript: Transcript) -> None:
        with self._lock:
            self._entries = list(transcript.responses)

    def take(
        self, *, agent: str | None, provider: Provider, body: str = "", key: str | None = None
    ) -> Entry | None:
        """Remove and return the first entry that fits (``repeat`` ones stay), or None."""
        with self._lock:
            for index, entry in enumerate(self._entries):
                if entry.fits(agent=agent, provider=provider, body=body, key=key):
                    if not entry.repeat:
                        del self._entries[index]
                    return entry
        return None

    def remaining(self) -> int:
        with self._lock:
            return len(self._entries)
