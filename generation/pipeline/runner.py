"""The run loop a worker executes: guard, read state, pick an action, perform, commit.

Each pass takes the branch's latest committed state, asks the orchestrator what comes
next, runs that agent (or the sandbox) through the handler the table names, and commits
the result as one step. Only the state a pass committed is carried to the next (it is
the branch's latest: a file the user saved in between is kept under the next step's
commit, as one saved during a step is), so a run resumes anywhere: a drive begins by
reading it. The transaction itself is ``services.steps.step_commit``.
"""

import logging
import threading
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections
from django.utils import timezone

from execution.backends.base import SandboxError
from files.selectors import state_get
from files.services import refusals
from generation import reasons
from generation.models import GenerationRun
from generation.orchestrator import ActionKind, next_action
from generation.pipeline import executing, installing, planning
from generation.pipeline.agent_calls import AgentCalls
from generation.pipeline.heartbeat import Heartbeat
from generation.pipeline.work import Cancelled, StepWork, StopRun
from generation.schemas import PipelineState
from generation.selectors import run_claims, run_crash_resumes
from generation.services.lease import Claim, LeaseLost, run_claim
from generation.services.steps import StepChange, run_fail, run_stop, step_commit
from llm import errors as llm_errors
from llm.selectors import SystemUsage
from projects.models import ProjectState

logger = logging.getLogger(__name__)

HANDLERS: dict[ActionKind, Callable[[StepWork], StepChange]] = {
    ActionKind.ASK_USER: planning.ask_user,
    ActionKind.SPEC: planning.spec,
    ActionKind.ARCHITECTURE: planning.architecture,
    ActionKind.TASKS: planning.tasks,
    ActionKind.PLAN: planning.plan,
    ActionKind.WRITE: planning.write,
    ActionKind.RUN: executing.run_command,
    ActionKind.TEST: executing.run_tests,
    ActionKind.DEBUG: executing.debug,
    ActionKind.INSTALL: installing.install,
}
# DONE and FAIL end the loop instead; any other kind without a handler is a bug, found here.
_UNHANDLED = set(ActionKind) - HANDLERS.keys() - {ActionKind.DONE, ActionKind.FAIL}
if _UNHANDLED:
    raise RuntimeError(f"actions without a handler: {sorted(_UNHANDLED)}")


def run_drive(*, project_id: str, user_id: int) -> None:
    """RunGeneration: drive the project's active run until it finishes or waits.

    Does nothing when the run is driven elsewhere or waits for its user.
    """
    claim = run_claim(project_id=project_id, user_id=user_id)
    if claim is None:
        return
    cancel = threading.Event()
    heartbeat = Heartbeat(claim.run.pk, claim.lease, cancel)
    heartbeat.start()
    try:
        Runner(claim, cancel).loop()
    except LeaseLost:
        logger.info("run %s: taken over by another worker, stopping", claim.run.pk)
    finally:
        heartbeat.stop()


class Runner:
    def __init__(self, claim: Claim, cancel: threading.Event) -> None:
        # The run as the claim saved it, with its branch and project (every step reads
        # both); each step's commit then leaves it as it saved it (no refresh per step).
        self.run, self.lease, self.cancel = claim.run, claim.lease, cancel
        self.after_crash = claim.after_crash
        self.agents = AgentCalls(self.run, cancel)
        self.system_usage = claim.system_usage  # then plus what each step spent
        self.state: ProjectState | None = None  # the state the last step committed

    def loop(self) -> None:
        try:
            if self.after_crash:
                _guard_resumed(self.run)
            while self._one_step():
                close_old_connections()
        except SoftTimeLimitExceeded:  # Celery's, raised wherever the step was at work
            over = _time_limit_reached()
            run_fail(run=self.run, lease=self.lease, code=over.code, params=over.params)
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

    def _unless_cancelled(self) -> None:
        # The run as the last commit (or the claim) saved it; a stop asked since then is
        # the heartbeat's event, and step_commit reads the row under its lock again.
        if self.run.cancel_requested or self.cancel.is_set():
            raise Cancelled

    def _one_step(self) -> bool:
        self._unless_cancelled()
        _guard(self.run, self.system_usage)
        state = self.state or state_get(branch=self.run.branch)
        data = PipelineState.model_validate(state.data)
        action = next_action(data, fix_attempts=settings.SAMOKODER_RUN_FIX_ATTEMPTS,
                             parallel=settings.SAMOKODER_CODEMONKEY_LIMIT,
                             install_pending=installing.install_needed(
                                 branch=self.run.branch, state=state, data=data))  # fmt: skip
        if action.kind == ActionKind.DONE:
            run_stop(run=self.run, lease=self.lease, status=GenerationRun.Status.COMPLETED,
                     latest=state)  # fmt: skip
            return False
        if action.kind == ActionKind.FAIL:
            assert data.debugging is not None  # FAIL: the fixes of an error ran out
            raise installing.out_of_fixes(data.debugging)
        work = StepWork(self.run, self.agents, self.cancel, state, data, action)
        change = HANDLERS[action.kind](work)
        # A step finished after Stop is not kept (step_commit, locked, asks again).
        self._unless_cancelled()
        spent = self.agents.spent_take()
        self.state = step_commit(run=self.run, lease=self.lease, change=change, spent=spent,
                                 follows=state)  # fmt: skip
        self.system_usage = spent.onto_system(self.system_usage)
        return change.status is None


def _guard(run: GenerationRun, system: SystemUsage) -> None:
    """Budget (cost, LLM calls) and wall clock, checked before every step.

    The totals are those the claim read and each step's commit added to (and, for
    ``system``, the run's calls on the platform's keys, the runner adds them up).
    """
    if run.llm_calls >= run.max_llm_calls:
        raise StopRun(reasons.BUDGET_CALLS, limit=run.max_llm_calls)
    _guard_platform(run, system)
    if run.cost >= run.max_cost:
        raise StopRun(reasons.BUDGET_COST, limit=str(run.max_cost), spent=str(run.cost))
    elapsed = (timezone.now() - run.clock_started_at).total_seconds()
    if elapsed > settings.SAMOKODER_RUN_MAX_SECONDS:
        raise StopRun(reasons.WALL_CLOCK, limit=round(settings.SAMOKODER_RUN_MAX_SECONDS / 60))


def _guard_resumed(run: GenerationRun) -> None:
    """A run resumed after its worker died is failed, not handed on forever, when that
    drive began more than the task's time limit ago (the hard limit killed it, or would
    have by now), or when its workers died SAMOKODER_RUN_MAX_RESUMES times on one step."""
    claims = run_claims(run=run)
    if not claims or claims[0].payload.get("after") != "crash":
        return
    if len(claims) > 1:
        drive = claims[0].created_at - claims[1].created_at
        if drive.total_seconds() >= _task_time_limit():
            raise _time_limit_reached()
    resumes = run_crash_resumes(run=run)
    if resumes > settings.SAMOKODER_RUN_MAX_RESUMES:
        raise StopRun(reasons.RESUMES, count=resumes)


def _task_time_limit() -> float:
    """Seconds one drive of a run may take: Celery's soft or hard limit, whichever comes
    first (0 is no limit)."""
    limits = (settings.SAMOKODER_RUN_SOFT_TIME_LIMIT, settings.SAMOKODER_RUN_HARD_TIME_LIMIT)
    return min((limit for limit in limits if limit > 0), default=float("inf"))


def _time_limit_reached() -> StopRun:
    return StopRun(reasons.TIME_LIMIT, limit=max(1, round(_task_time_limit() / 60)))


def _guard_platform(run: GenerationRun, system: SystemUsage) -> None:
    """On the platform's keys an unknown cost is a refusal, not 0, and the platform's cap
    holds even when the run began on the user's own key (removed since)."""
    if not system["calls"]:
        return
    if system["unpriced_model"] is not None:
        raise StopRun(reasons.UNPRICED, model=system["unpriced_model"])
    cap = settings.SAMOKODER_PLATFORM_MAX_RUN_COST
    if run.cost >= cap:
        raise StopRun(reasons.PLATFORM_BUDGET, limit=str(cap), spent=str(run.cost))


def _reason_for(exc: Exception, run: GenerationRun) -> tuple[str, dict]:
    label = llm_errors.provider_label(run.provider)
    if isinstance(exc, llm_errors.KeyMissing):
        return reasons.KEY_MISSING, {"provider": label}
    if isinstance(exc, llm_errors.KeyRejected):
        return reasons.KEY_REJECTED, {"provider": label}
    if isinstance(exc, llm_errors.LLMError):  # rendered when shown, in the reader's language
        return reasons.LLM_FAILED, {"error": exc.code, **exc.params}
    if isinstance(exc, SandboxError):
        return reasons.SANDBOX, {"detail": str(exc)}
    if isinstance(exc, ValidationError):  # a file the agents wrote breaks the file rules
        return reasons.FILES_REFUSED, {"refused": refusals(exc)}
    return reasons.INTERNAL, {}
