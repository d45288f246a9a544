"""Publishing committed pipeline events to the project's channel group.

The PipelineEvent log is the source of truth: a browser that misses a message (or was
not connected) replays the log from its last sequence number. So publishing is best
effort: a channel-layer outage is logged, never allowed to fail the run.
"""

import logging
import uuid
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def project_group(project_id: uuid.UUID | str) -> str:
    return f"project.{project_id}"


def publish_after_commit(project_id: uuid.UUID | str, rows: Iterable) -> None:
    """Once the current transaction commits, send the rows' messages as one batch."""
    messages = [row.message() for row in rows]
    if messages:
        transaction.on_commit(lambda: publish(project_id, messages))


def publish(project_id: uuid.UUID | str, messages: list[dict]) -> None:
    # One group_send per step, not per event: each call from sync code costs a loop hop.
    try:
        layer = get_channel_layer()
        payload = {"type": "pipeline.events", "events": messages}
        async_to_sync(layer.group_send)(project_group(project_id), payload)
    except Exception:
        logger.warning("publishing %d events for project %s failed", len(messages), project_id,
                       exc_info=True)  # fmt: skip
