"""The LLM replay server, shared by every test that drives a real SDK client over HTTP."""

from collections.abc import Iterator

import pytest

from llm.replay import ReplayServer, Transcript


@pytest.fixture(scope="session")
def replay_server() -> Iterator[ReplayServer]:
    """One server for the session, on a free loopback port."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> ReplayServer:
    """The session's server with an empty transcript and no recorded requests.

    Load this test's answers with `replay.load(Transcript.model_validate({...}))` or
    `replay.load_dict({...})`; point the SDKs at `replay.url`.
    """
    replay_server.load(Transcript())
    return replay_server
