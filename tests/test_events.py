"""The event registry: one name, one event class, whichever app declares it."""

import dataclasses

import pytest

from core.events import DomainEvent, DuplicateEventName
from execution.events import CommandExecuted
from generation.events import PipelineCommandExecuted


def test_an_event_name_taken_by_another_module_is_refused():
    with pytest.raises(DuplicateEventName, match=r"execution\.events"):

        @dataclasses.dataclass(frozen=True, kw_only=True)
        class CommandExecuted(DomainEvent):  # the name execution.events already uses
            command: str


def test_the_sandbox_and_the_pipeline_log_commands_under_different_names():
    assert CommandExecuted.name == "CommandExecuted"
    assert PipelineCommandExecuted.name == "PipelineCommandExecuted"
