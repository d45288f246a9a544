"""Recorded requests as a replay transcript, so any real run can be replayed offline."""

import uuid
from typing import cast

from llm.models import LLMRequest
from llm.replay.transcript import Entry, Provider, Transcript, Usage


def transcript_of_run(*, run_id: uuid.UUID | str) -> Transcript:
    """The successful answers of a run, in order, keyed by agent and provider.

    Failed attempts are left out: a replay answers what the run finally received.
    """
    requests = LLMRequest.objects.filter(run_id=run_id, status=LLMRequest.Status.SUCCESS).order_by(
        "created_at"
    )
    entries = [
        Entry(
            text=request.response,
            agent=request.agent,
            provider=cast(Provider, request.provider),  # a table name; Entry validates it
            usage=Usage(
                prompt_tokens=request.prompt_tokens, completion_tokens=request.completion_tokens
            ),
        )
        for request in requests
    ]
    return Transcript(responses=entries)
