"""A step's commit that a crash of the database server lost (core.durability: it did not
wait for the disk) is never built on: the worker that made it stops at its next commit,
and the run resumes from the last step that is there."""

import threading

import pytest

from generation.models import GenerationRun, PipelineEvent
from generation.pipeline.runner import Runner, run_drive
from generation.services import run_answer, run_start
from generation.services.lease import LeaseLost, run_claim
from projects.models import ProjectState
from tests.generation.scenario import ANSWER, project_for, reference

pytestmark = pytest.mark.django_db(transaction=True)


class LosingRunner(Runner):
    """The real runner; its first step's commit is then undone in the database, as a
    crash of the server undoes a commit it had not flushed (the worker never hears)."""

    lost: ProjectState | None = None

    def _one_step(self) -> bool:
        seq = self.run.last_seq
        going = super()._one_step()
        if self.lost is None:
            self.lost = self.state
            assert self.lost is not None
            PipelineEvent.objects.filter(run_id=self.run.pk, seq__gt=seq).delete()
            ProjectState.objects.filter(pk=self.lost.pk).delete()
            GenerationRun.objects.filter(pk=self.run.pk).update(last_seq=seq)
        return going


def test_a_worker_whose_commit_was_lost_stops_instead_of_building_on_it(
    user, pipeline_settings, replay
):
    replay.load_dict(reference())
    project = project_for(user)
    run = run_start(project=project, user=user, provider="openai")
    run_drive(project_id=str(project.pk), user_id=user.pk)  # to SpecWriter's question
    run_answer(run=GenerationRun.objects.get(pk=run.pk), answer=ANSWER)
    claim = run_claim(project_id=str(project.pk), user_id=user.pk)
    assert claim is not None
    runner = LosingRunner(claim, threading.Event())

    with pytest.raises(LeaseLost):
        runner.loop()

    assert runner.lost is not None
    steps = list(project.branches.get().states.order_by("step_index")
                 .values_list("step_index", flat=True))  # fmt: skip
    assert steps == list(range(runner.lost.step_index)), "nothing after the lost step"
    seqs = list(PipelineEvent.objects.filter(run_id=run.pk).order_by("seq")
                .values_list("seq", flat=True))  # fmt: skip
    assert seqs == list(range(1, len(seqs) + 1))
