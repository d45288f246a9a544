"""Handlers of the stages that plan and write: specification, architecture, tasks, a
task's steps, the files, and questions to the user."""

from generation import events, reasons
from generation.agents import Architect, CodeMonkey, Developer, SpecWriter, TechLead
from generation.context import project_context
from generation.language import language_name, text_language
from generation.pipeline.work import StepWork, StopRun
from generation.services.steps import StepChange
from projects import labels
from projects.labels import StepLabel


def spec(work: StepWork) -> StepChange:
    data = work.data
    description = data.iterations[0].description
    language = text_language(description)
    may_ask = not data.asked
    answer = work.agents.answer(
        SpecWriter(), description=description, answers=data.answers_with_questions(),
        language=language, language_name=language_name(language), may_ask=may_ask,
    )  # fmt: skip
    if answer.questions and may_ask:
        return work.questions(answer.questions, SpecWriter.name)
    if answer.specification is None:
        raise StopRun(reasons.TOO_MANY_QUESTIONS)
    data.specification = answer.specification
    written = answer.specification.model_dump(mode="json")
    written_event = events.SpecificationGenerated(project_id=work.project_id, spec=written)
    return work.change(SpecWriter.name, written_event, label=StepLabel(labels.SPEC))


def architecture(work: StepWork) -> StepChange:
    designed = work.agents.answer(Architect(), spec=work.data.specification)
    work.data.architecture = designed
    payload = designed.model_dump(mode="json")
    designed_event = events.ArchitectureDesigned(project_id=work.project_id, architecture=payload)
    return work.change(Architect.name, designed_event, label=StepLabel(labels.ARCHITECTURE))


def tasks(work: StepWork) -> StepChange:
    data = work.data
    iteration = len(data.iterations) - 1
    change = data.iterations[-1].description if iteration else ""
    plan = work.agents.answer(
        TechLead(), spec=data.specification, architecture=data.architecture, change=change,
        context=project_context(work.files(), []), answers=data.answers_with_questions(),
    )  # fmt: skip
    for task in plan.tasks:
        task.iteration, task.status = iteration, "pending"
    data.epics += plan.epics
    data.tasks += plan.tasks
    listed = [task.model_dump(mode="json") for task in plan.tasks]
    created = events.TasksCreated(project_id=work.project_id, tasks=listed)
    planned = StepLabel(labels.TASKS, {"count": len(plan.tasks)})
    return work.change(TechLead.name, created, label=planned)


def plan(work: StepWork) -> StepChange:
    task = work.task()
    planned = work.agents.answer(
        Developer(), task=task, architecture=work.data.architecture,
        context=project_context(work.files(), task.files),
        answers=work.data.answers_with_questions(),
    )  # fmt: skip
    task.status = "in_progress"
    for step in planned.steps:
        step.done = False  # what is done is for the pipeline to say, not the model
    work.data.steps = planned.steps
    listed = [step.model_dump(mode="json") for step in planned.steps]
    event = events.StepsPlanned(
        project_id=work.project_id, task_index=work.action.task, steps=listed
    )
    index = work.action.task
    assert index is not None  # the orchestrator plans steps for a task it names
    label = StepLabel(labels.STEPS, {"task": index + 1})
    return work.change(Developer.name, event, label=label)


def write(work: StepWork) -> StepChange:
    data, task, files = work.data, work.task(), work.files()
    steps = [data.steps[i] for i in work.action.steps]
    many = [
        {"path": step.related_files[0], "purpose": step.content, "task": task,
         "architecture": data.architecture, "answers": data.answers_with_questions(),
         "context": project_context(files, [*step.related_files, *task.files])}
        for step in steps
    ]  # fmt: skip
    answers = work.agents.answers(CodeMonkey(), many)
    # The step decides the path, whatever the answer claims (invariant 10 holds on it).
    written = {
        step.related_files[0]: answer.content for step, answer in zip(steps, answers, strict=True)
    }
    for step in steps:
        step.done = True
    data.task_close_if_done()
    generated = events.CodeGenerated(project_id=work.project_id, files=sorted(written))
    wrote = StepLabel(labels.WROTE, {"files": ", ".join(written)})
    return work.change(CodeMonkey.name, generated, files=written, label=wrote)


def ask_user(work: StepWork) -> StepChange:
    if work.data.questions:  # committed but the run was not parked: park it now
        return work.questions(work.data.questions, Developer.name)
    question = work.data.steps[work.action.steps[0]].content
    return work.questions([question], Developer.name)
