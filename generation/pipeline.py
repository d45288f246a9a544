"""The run loop a worker executes: guard, read state, pick an action, perform, commit.

Each pass reads the branch's latest committed state, asks the orchestrator what comes
next, runs that agent (or the sandbox) and commits the result as one step. Nothing is
held in memory between passes, so a run resumes anywhere. Agents' answers become
StepChanges here; the transaction itself is ``services.step_commit``.
"""

import asyncio
import hashlib
import logging
import re
import threading
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from execution.backends.base import SandboxError
from execution.services import command_run, commands_refused_report
from files.models import content_hash
from files.selectors import state_get, state_manifest, state_texts
from generation import events, reasons
from generation.agents import (
    Agent,
    Architect,
    BugHunter,
    CodeMonkey,
    Developer,
    SpecWriter,
    TechLead,
)
from generation.context import project_context
from generation.language import language_name, text_language
from generation.models import GenerationRun
from generation.orchestrator import Action, next_action
from generation.publish import OutputRelay, TextRelay, publish_transient
from generation.schemas import Debugging, PipelineState, Task
from generation.services import (
    LeaseLost,
    StepChange,
    _close_task_if_done,
    run_claim,
    run_fail,
    run_heartbeat,
    run_stop,
    step_commit,
)
from llm import errors as llm_errors
from llm.services import CallContext, LLMGateway

logger = logging.getLogger(__name__)
OUTPUT_TAIL = 4000  # characters of a command's output kept in events and prompts


class StopRun(Exception):
    """The run cannot go on; ``code`` and ``params`` say why (generation.reasons)."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(code)
        self.code, self.params = code, params


class Cancelled(Exception):
    pass


def run_drive(*, project_id: str, user_id: int) -> None:
    """RunGeneration: drive the project's active run until it finishes or waits.

    Does nothing when the run is driven elsewhere or waits for its user.
    """
    claimed = run_claim(project_id=project_id, user_id=user_id)
    if claimed is None:
        return
    run, lease = claimed
    cancel = threading.Event()
    heartbeat = Heartbeat(run.pk, lease, cancel)
    heartbeat.start()
    try:
        Runner(run, lease, cancel).loop()
    except LeaseLost:
        logger.info("run %s: taken over by another worker, stopping", run.pk)
    finally:
        heartbeat.stop()


class Heartbeat(threading.Thread):
    """Beats for the run while a step works; sets ``cancel`` when a stop was asked (which
    also kills a running sandbox command) or the run was taken over."""

    def __init__(self, run_id: uuid.UUID, lease: uuid.UUID, cancel: threading.Event) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.lease, self.cancel = run_id, lease, cancel
        self.stopped = threading.Event()

    MISSES_ALLOWED = 3  # beats in a row that may fail (a database restart) before stopping

    def run(self) -> None:
        misses = 0
        try:
            while not self.stopped.wait(settings.SAMOKODER_RUN_HEARTBEAT_SECONDS):
                try:
                    beat = run_heartbeat(run_id=self.run_id, lease=self.lease)
                    misses = 0
                except Exception:
                    misses += 1
                    logger.warning("heartbeat of run %s failed (%d in a row)", self.run_id,
                                   misses, exc_info=True)  # fmt: skip
                    close_old_connections()
                    # Without beats another worker would take the run: stop this one first.
                    beat = None if misses >= self.MISSES_ALLOWED else False
                if beat is not False:
                    self.cancel.set()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


class Runner:
    def __init__(self, run: GenerationRun, lease: uuid.UUID, cancel: threading.Event) -> None:
        self.run, self.lease, self.cancel = run, lease, cancel

    def loop(self) -> None:
        try:
            while self._one_step():
                close_old_connections()
        except Cancelled:
            run_stop(run=self.run, lease=self.lease, status=GenerationRun.Status.CANCELLED,
                     code=reasons.CANCELLED)  # fmt: skip
        except StopRun as stop:
            run_fail(run=self.run, lease=self.lease, code=stop.code, params=stop.params)
        except (LeaseLost, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            code, params = _reason_for(exc, self.run)
            if code == reasons.INTERNAL:
                logger.exception("run %s failed", self.run.pk)
            run_fail(run=self.run, lease=self.lease, code=code, params=params, error=repr(exc))

    def _one_step(self) -> bool:
        self.run.refresh_from_db()
        if self.run.cancel_requested or self.cancel.is_set():
            raise Cancelled
        _guard(self.run)
        state = state_get(branch=self.run.branch)
        data = PipelineState.model_validate(state.data)
        action = next_action(data, fix_attempts=settings.SAMOKODER_RUN_FIX_ATTEMPTS,
                             parallel=settings.SAMOKODER_CODEMONKEY_LIMIT)  # fmt: skip
        if action.kind == "done":
            run_stop(run=self.run, lease=self.lease, status=GenerationRun.Status.COMPLETED)
            return False
        if action.kind == "fail":
            debugging = data.debugging
            raise StopRun(reasons.FIX_ATTEMPTS, command=debugging.command,
                          attempts=debugging.attempts)  # fmt: skip
        change = Step(self, state, data, action).perform()
        step_commit(run=self.run, lease=self.lease, change=change)
        return change.status is None

    def ask(self, agent: Agent, **values):
        """One typed answer from ``agent`` through the user's key (or the system's)."""
        self.working(agent.name)
        return async_to_sync(self._ask)(agent, values)

    def working(self, agent: str, detail: str = "") -> None:
        """Tell the browser which agent works now (live only; the step's events follow)."""
        message = {"type": "pipeline.activity", "run": str(self.run.pk), "agent": agent,
                   "detail": detail}  # fmt: skip
        publish_transient(self.run.project_id, message)

    async def _ask(self, agent: Agent, values: dict):
        llm = await LLMGateway.open(self._context(agent))
        relay = TextRelay(self.run.project_id, self.run.pk, agent.name)
        try:
            return await agent.ask(llm, on_text=relay, **values)
        finally:
            relay.close()
            await llm.aclose()  # async_to_sync ends this loop when we return

    def ask_many(self, agent: Agent, many: list[dict]) -> list:
        """Several answers from ``agent`` at once (parallel CodeMonkeys)."""
        self.working(agent.name, ", ".join(str(values.get("path", "")) for values in many))

        async def gather():
            llm = await LLMGateway.open(self._context(agent))
            gate = asyncio.Semaphore(settings.SAMOKODER_CODEMONKEY_LIMIT)

            async def one(values: dict):
                relay = TextRelay(self.run.project_id, self.run.pk, agent.name,
                                  str(values.get("path", "")))  # fmt: skip
                async with gate:
                    try:
                        return await agent.ask(llm, on_text=relay, **values)
                    finally:
                        relay.close()

            try:
                # A TaskGroup cancels the others when one fails, before the client closes.
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(one(values)) for values in many]
                return [task.result() for task in tasks]
            except* Exception as failed:
                raise failed.exceptions[0] from None
            finally:
                await llm.aclose()

        return async_to_sync(gather)()

    def _context(self, agent: Agent) -> CallContext:
        run = self.run
        return CallContext(
            user_id=run.user_id, provider=run.provider, agent=agent.name,
            model=run.model or None, project_id=run.project_id, run_id=run.pk,
        )  # fmt: skip


def _guard(run: GenerationRun) -> None:
    """Budget (cost, LLM calls) and wall clock, checked before every step.

    The totals are those the claim and each step's commit wrote (reloaded by the loop).
    """
    if run.llm_calls >= run.max_llm_calls:
        raise StopRun(reasons.BUDGET_CALLS, limit=run.max_llm_calls)
    if run.cost >= run.max_cost:
        raise StopRun(reasons.BUDGET_COST, limit=str(run.max_cost), spent=str(run.cost))
    elapsed = (timezone.now() - run.clock_started_at).total_seconds()
    if elapsed > settings.SAMOKODER_RUN_MAX_SECONDS:
        raise StopRun(reasons.WALL_CLOCK, limit=round(settings.SAMOKODER_RUN_MAX_SECONDS / 60))


def _reason_for(exc: Exception, run: GenerationRun) -> tuple[str, dict]:
    label = llm_errors.provider_label(run.provider)
    if isinstance(exc, llm_errors.KeyMissing):
        return reasons.KEY_MISSING, {"provider": label}
    if isinstance(exc, llm_errors.KeyRejected):
        return reasons.KEY_REJECTED, {"provider": label}
    if isinstance(exc, llm_errors.LLMError):
        return reasons.LLM_FAILED, {"detail": str(exc)}
    if isinstance(exc, SandboxError):
        return reasons.SANDBOX, {"detail": str(exc)}
    if isinstance(exc, ValidationError):  # a file the agents wrote breaks the file rules
        return reasons.FILES_REFUSED, {"detail": " ".join(exc.messages)}
    return reasons.INTERNAL, {}


class Step:
    """One action performed on one committed state; ``perform`` returns its StepChange."""

    def __init__(self, runner: Runner, state, data: PipelineState, action: Action) -> None:
        self.runner, self.state, self.action = runner, state, action
        self.data = data.model_copy(deep=True)
        self.project_id = str(runner.run.project_id)

    def perform(self) -> StepChange:
        handler = getattr(self, f"_{self.action.kind}")
        return handler()

    def _change(self, agent: str, *new_events, **fields) -> StepChange:
        return StepChange(data=self.data, events=list(new_events), stage=self.action.stage,
                          agent=agent, **fields)  # fmt: skip

    def _answers(self) -> list[tuple[str, str]]:
        """The user's answers, each with the questions it answered (for every agent)."""
        return list(zip(self.data.asked, self.data.answers, strict=False))

    def _files(self) -> dict[str, str]:
        return dict(state_texts(state=self.state))

    # -- specification, architecture, tasks ------------------------------------------

    def _spec(self) -> StepChange:
        description = self.data.iterations[0].description
        language = text_language(description)
        may_ask = not self.data.asked
        answer = self.runner.ask(
            SpecWriter(), description=description, answers=self._answers(), language=language,
            language_name=language_name(language), may_ask=may_ask,
        )  # fmt: skip
        if answer.questions and may_ask:
            return self._questions(answer.questions, SpecWriter.name)
        if answer.specification is None:
            raise StopRun(reasons.TOO_MANY_QUESTIONS)
        self.data.specification = answer.specification
        spec = answer.specification.model_dump(mode="json")
        return self._change(
            SpecWriter.name, events.SpecificationGenerated(project_id=self.project_id, spec=spec)
        )

    def _questions(self, questions: list[str], agent: str) -> StepChange:
        self.data.questions = questions
        text = "\n".join(questions)
        asked = events.QuestionAsked(project_id=self.project_id, question=text)
        return self._change(agent, asked, status=GenerationRun.Status.AWAITING_INPUT, question=text)

    def _architecture(self) -> StepChange:
        architecture = self.runner.ask(Architect(), spec=self.data.specification)
        self.data.architecture = architecture
        payload = architecture.model_dump(mode="json")
        return self._change(
            Architect.name,
            events.ArchitectureDesigned(project_id=self.project_id, architecture=payload),
        )

    def _tasks(self) -> StepChange:
        iteration = len(self.data.iterations) - 1
        change = self.data.iterations[-1].description if iteration else ""
        plan = self.runner.ask(
            TechLead(), spec=self.data.specification, architecture=self.data.architecture,
            change=change, context=project_context(self._files(), []), answers=self._answers(),
        )  # fmt: skip
        for task in plan.tasks:
            task.iteration, task.status = iteration, "pending"
        self.data.epics += plan.epics
        self.data.tasks += plan.tasks
        listed = [task.model_dump(mode="json") for task in plan.tasks]
        return self._change(
            TechLead.name, events.TasksCreated(project_id=self.project_id, tasks=listed)
        )

    # -- development -------------------------------------------------------------------

    def _task(self) -> Task:
        return self.data.tasks[self.action.task]

    def _plan(self) -> StepChange:
        task = self._task()
        plan = self.runner.ask(
            Developer(), task=task, architecture=self.data.architecture,
            context=project_context(self._files(), task.files), answers=self._answers(),
        )  # fmt: skip
        task.status = "in_progress"
        for step in plan.steps:
            step.done = False  # what is done is for the pipeline to say, not the model
        self.data.steps = plan.steps
        listed = [step.model_dump(mode="json") for step in plan.steps]
        planned = events.StepsPlanned(
            project_id=self.project_id, task_index=self.action.task, steps=listed
        )
        return self._change(Developer.name, planned)

    def _write(self) -> StepChange:
        task, files = self._task(), self._files()
        steps = [self.data.steps[i] for i in self.action.steps]
        many = [
            {"path": step.related_files[0], "purpose": step.content, "task": task,
             "architecture": self.data.architecture, "answers": self._answers(),
             "context": project_context(files, [*step.related_files, *task.files])}
            for step in steps
        ]  # fmt: skip
        answers = self.runner.ask_many(CodeMonkey(), many)
        # The step decides the path, whatever the answer claims (invariant 10 holds on it).
        written = {
            step.related_files[0]: answer.content
            for step, answer in zip(steps, answers, strict=True)
        }
        for step in steps:
            step.done = True
        _close_task_if_done(self.data)
        generated = events.CodeGenerated(project_id=self.project_id, files=sorted(written))
        return self._change(CodeMonkey.name, generated, files=written)

    def _ask(self) -> StepChange:
        if self.data.questions:  # committed but the run was not parked: park it now
            return self._questions(self.data.questions, Developer.name)
        question = self.data.steps[self.action.steps[0]].content
        return self._questions([question], Developer.name)

    # -- execution and debugging -------------------------------------------------------

    def _test(self) -> StepChange:
        return self._execute(self.data.architecture.test_command, step=None)

    def _run(self) -> StepChange:
        debugging = self.data.debugging
        if debugging is not None:
            return self._execute(debugging.command, step=debugging.step)
        step = self.action.steps[0]
        return self._execute(self.data.steps[step].content, step=step)

    def _execute(self, command: str, *, step: int | None) -> StepChange:
        run = self.runner.run
        relay = OutputRelay(run.project_id, run.pk, command)
        try:
            ran = command_run(
                branch=run.branch, command=command, run_id=run.pk, cancel=self.runner.cancel,
                on_output=relay,
            )  # fmt: skip
        finally:
            relay.close()
        if ran.result.cancelled:
            raise Cancelled
        commands_refused_report(branch=run.branch, refused=ran.refused)
        result = ran.result
        output = _tail(result.stdout + result.stderr)
        executed = events.CommandExecuted(
            project_id=self.project_id, command=command, exit_code=result.exit_code,
            timed_out=result.timed_out, log_id=ran.log.pk, output=output,
        )  # fmt: skip
        if result.exit_code == 0:
            new = self._passed(command, step)
        else:
            new = self._failed(command, step, output, result.exit_code)
        return self._change("Executor", executed, *new, files=ran.changes)

    def _passed(self, command: str, step: int | None) -> list:
        new = []
        debugging = self.data.debugging
        if debugging is not None:
            self.data.fixed_errors.append(_signature(debugging.command, debugging.first_error))
            new.append(events.ErrorFixed(project_id=self.project_id, command=command,
                                         attempts=debugging.attempts))  # fmt: skip
            self.data.debugging = None
        if step is None:
            self.data.tests_passed = True
        else:
            self.data.steps[step].done = True
            _close_task_if_done(self.data)
        return new

    def _failed(self, command: str, step: int | None, output: str, exit_code: int | None) -> list:
        signature = _signature(command, output)
        if signature in self.data.fixed_errors:
            raise StopRun(reasons.LOOP_ERROR, command=command)
        debugging = self.data.debugging or Debugging(
            command=command, error=output, first_error=output, step=step
        )
        debugging.error, debugging.exit_code, debugging.rerun = output, exit_code, False
        self.data.debugging = debugging
        return [events.ErrorDetected(project_id=self.project_id, command=command, error=output,
                                     attempt=debugging.attempts)]  # fmt: skip

    def _debug(self) -> StepChange:
        debugging = self.data.debugging
        files = self._files()
        focus = _mentioned(files, debugging.error) + self._task_files()
        fix = self.runner.ask(
            BugHunter(), command=debugging.command, error=debugging.error,
            exit_code=debugging.exit_code, attempts=debugging.attempts,
            attempt=debugging.attempts + 1, architecture=self.data.architecture,
            context=project_context(files, focus), answers=self._answers(),
        )  # fmt: skip
        written = {item.path: item.content for item in fix.files}
        manifest = state_manifest(self.state)
        fingerprint = sorted(f"{path}:{content_hash(text)}" for path, text in written.items())
        unchanged = all(manifest.get(path) == content_hash(text) for path, text in written.items())
        if unchanged or fingerprint in debugging.tried:
            raise StopRun(reasons.LOOP_CONTENT, command=debugging.command)
        debugging.attempts += 1
        debugging.tried.append(fingerprint)
        debugging.rerun = True
        applied = events.FixApplied(project_id=self.project_id, command=debugging.command,
                                    files=sorted(written), attempt=debugging.attempts)  # fmt: skip
        return self._change(BugHunter.name, applied, files=written)

    def _task_files(self) -> list[str]:
        task = self.data.current_task()
        return self.data.tasks[task].files if task is not None else []


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


_NOISE = re.compile(r"\d+\.\d+s|0x[0-9a-f]+|line \d+")


def _signature(command: str, output: str) -> str:
    """An error's identity: its command and output with timings and addresses removed."""
    normalised = _NOISE.sub("#", output.strip())
    return hashlib.sha256(f"{command}\n{normalised}".encode()).hexdigest()[:32]


def _mentioned(files: dict[str, str], output: str) -> list[str]:
    """Project files named in an error's output (tracebacks name them by path)."""
    return [path for path in files if path in output or path.rsplit("/", 1)[-1] in output]
