"""A loopback replay server for the LLM SDKs, answering from a transcript file."""

from llm.replay.server import ReplayServer
from llm.replay.transcript import Entry, Fault, Transcript, Usage, load_transcript

__all__ = ["Entry", "Fault", "ReplayServer", "Transcript", "Usage", "load_transcript"]
