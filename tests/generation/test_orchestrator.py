"""The orchestrator reads only the committed state (invariants 9-12)."""

from generation.orchestrator import disjoint_batch, next_action
from generation.schemas import (
    Architecture,
    Debugging,
    Iteration,
    PipelineState,
    PlannedFile,
    PlannedStep,
    Specification,
    Task,
)

SPEC = Specification(summary="s", requirements=["r"])
ARCH = Architecture(
    runtime="python3", summary="a", files=[PlannedFile(path="a.py", purpose="p")],
    test_command="python3 -m unittest",
)  # fmt: skip


def state(**fields) -> PipelineState:
    return PipelineState(iterations=[Iteration(description="d", status="in_progress")], **fields)


def kind(data: PipelineState) -> str:
    return next_action(data, fix_attempts=3, parallel=4).kind


def save(path: str, done: bool = False) -> PlannedStep:
    return PlannedStep(type="save_file", content="c", related_files=[path], done=done)


def test_stages_follow_each_other_in_order():
    """Invariant 9: spec → architecture → tasks → code → execution."""
    data = state()
    assert kind(data) == "spec"
    data.specification = SPEC
    assert kind(data) == "architecture"
    data.architecture = ARCH
    assert kind(data) == "tasks"
    data.tasks = [Task(description="t", files=["a.py"])]
    assert kind(data) == "plan"
    data.steps = [save("a.py")]
    assert kind(data) == "write"
    data.tasks[0].status, data.steps = "done", []
    assert kind(data) == "test"
    data.tests_passed = True
    assert kind(data) == "done"


def test_nothing_is_skipped_even_when_later_parts_exist():
    data = state(architecture=ARCH, tasks=[Task(description="t")])
    assert kind(data) == "spec"  # an architecture without a spec is not trusted


def test_open_questions_park_the_run_whatever_else_is_pending():
    data = state(specification=SPEC, questions=["which?"])
    assert kind(data) == "ask"


def test_debugging_only_after_a_failure_and_at_most_three_fixes():
    """Invariants 11 and 12."""
    done = Task(description="t", status="done")
    data = state(specification=SPEC, architecture=ARCH, tasks=[done])
    assert kind(data) == "test"  # no failure: no BugHunter
    data.debugging = Debugging(command="x", error="boom", exit_code=1)
    assert kind(data) == "debug"
    data.debugging.attempts, data.debugging.rerun = 1, True
    assert kind(data) == "run"  # after a fix the command runs again first
    data.debugging.rerun = False
    data.debugging.attempts = 3
    assert kind(data) == "fail"


def test_a_new_iteration_plans_new_tasks_without_a_new_spec():
    data = state(specification=SPEC, architecture=ARCH, tests_passed=False)
    data.tasks = [Task(description="old", status="done", iteration=0)]
    data.iterations[0].status = "completed"
    data.iterations.append(Iteration(description="change", status="in_progress"))
    assert kind(data) == "tasks"


def test_parallel_code_monkeys_only_on_disjoint_files():
    """Invariant 10: a batch never holds two steps on the same file."""
    steps = [save("a.py"), save("b.py"), save("a.py"), save("c.py")]
    assert disjoint_batch(steps, 0, limit=8) == (0, 1)
    steps = [save("a.py", done=True), save("b.py"), save("c.py"), save("d.py")]
    assert disjoint_batch(steps, 1, limit=2) == (1, 2)


def test_a_command_ends_a_batch_of_files():
    command = PlannedStep(type="command", content="python3 -m unittest")
    steps = [save("a.py"), command, save("b.py")]
    assert disjoint_batch(steps, 0, limit=8) == (0,)


def test_every_action_the_orchestrator_can_pick_has_a_handler():
    from generation.orchestrator import ActionKind
    from generation.pipeline.runner import HANDLERS

    assert set(HANDLERS) == set(ActionKind) - {ActionKind.DONE, ActionKind.FAIL}


def pending(data: PipelineState) -> str:
    """The next action when the branch's manifest changed since its last install."""
    return next_action(data, fix_attempts=3, parallel=4, install_pending=True).kind


def test_a_changed_manifest_is_installed_before_the_next_command_or_the_tests():
    command = PlannedStep(type="command", content="npm test")
    data = state(specification=SPEC, architecture=ARCH, tasks=[Task(description="t")])
    data.steps = [save("package.json"), command]
    assert pending(data) == "write"  # files first: the manifest may be among them
    data.steps[0].done = True
    assert (kind(data), pending(data)) == ("run", "install")
    data.tasks[0].status, data.steps = "done", []
    assert (kind(data), pending(data)) == ("test", "install")
    data.tests_passed = True
    assert pending(data) == "done"


def test_a_failed_install_is_debugged_and_installed_again_after_the_fix():
    done = Task(description="t", status="done")
    data = state(specification=SPEC, architecture=ARCH, tasks=[done])
    data.debugging = Debugging(command="npm install", error="404", exit_code=1, phase="install")
    assert pending(data) == "debug"
    data.debugging.attempts, data.debugging.rerun = 1, True
    assert (kind(data), pending(data)) == ("install", "install")
    data.debugging.rerun, data.debugging.attempts = False, 3
    assert pending(data) == "fail"


def test_a_fix_that_changes_the_manifest_installs_before_the_command_runs_again():
    done = Task(description="t", status="done")
    data = state(specification=SPEC, architecture=ARCH, tasks=[done])
    data.debugging = Debugging(command="npm test", error="no express", exit_code=1, rerun=True)
    assert (kind(data), pending(data)) == ("run", "install")
