"""What the Architect may choose: a runtime of the sandbox's table, a manifest, and for a
server the command that starts it and its port; the prompts say what the sandbox can do."""

import pytest
from pydantic import ValidationError

from execution.dependencies import RUNTIMES
from generation.agents import Architect, BugHunter, CodeMonkey, Developer
from generation.schemas import Architecture, PipelineState

BASE = {"summary": "s", "files": [{"path": "app.py", "purpose": "p"}], "test_command": "t"}


def prompt(conversation) -> str:
    return "\n".join(message.content for message in conversation.messages)


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_every_runtime_of_the_sandbox_table_is_accepted(runtime):
    assert Architecture.model_validate(BASE | {"runtime": runtime}).runtime == runtime


@pytest.mark.parametrize("runtime", ["ruby", "python", "", "Node"])
def test_a_runtime_the_sandbox_lacks_is_refused(runtime):
    with pytest.raises(ValidationError, match="runtime"):
        Architecture.model_validate(BASE | {"runtime": runtime})


def test_the_schema_sent_to_the_model_lists_the_runtimes_of_the_table():
    schema = Architecture.model_json_schema()
    assert sorted(schema["properties"]["runtime"]["enum"]) == sorted(RUNTIMES)


def test_a_server_names_its_run_command_and_port_and_both_are_kept_in_the_state():
    server = BASE | {"runtime": "node", "run_command": "node server.js", "port": 3000}
    data = PipelineState(architecture=Architecture.model_validate(server))
    kept = PipelineState.model_validate(data.model_dump(mode="json")).architecture
    assert (kept.run_command, kept.port) == ("node server.js", 3000)
    assert Architecture.model_validate(BASE | {"runtime": "python3"}).port is None


@pytest.mark.parametrize(
    "extra",
    [
        {"run_command": "node server.js", "port": 80},  # a privileged port
        {"run_command": "node server.js", "port": 65536},
        {"run_command": "node server.js"},  # a server without its port
        {"port": 8000},  # a port without a command listening on it
    ],
)
def test_a_port_outside_1024_to_65535_or_without_its_command_is_refused(extra):
    with pytest.raises(ValidationError):
        Architecture.model_validate(BASE | {"runtime": "node"} | extra)


def test_the_architect_is_told_every_runtime_its_manifest_and_the_network_rules():
    text = prompt(Architect().conversation(spec={"language": "en", "summary": "s"}))
    for runtime in RUNTIMES.values():
        assert f'"{runtime.name}"' in text and runtime.manifest in text
    assert "PyPI" in text and "npm" in text
    assert "no network" in text
    assert '"run_command"' in text and '"port"' in text and "1024" in text


@pytest.mark.parametrize("agent", [Developer(), CodeMonkey(), BugHunter()])
def test_the_agents_that_write_are_told_the_chosen_runtime_and_its_manifest_only(agent):
    architecture = Architecture.model_validate(BASE | {"runtime": "node"})
    text = prompt(agent.conversation(
        architecture=architecture, task={"description": "t"}, path="app.js", purpose="p",
        command="npm test", error="e", exit_code=1, attempts=0, attempt=1,
    ))  # fmt: skip
    assert "package.json" in text and "requirements.txt" not in text
    assert "no network" in text
