import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from files import selectors, services
from files.models import File, FileContent, StateFile
from projects.models import ProjectEvent, ProjectState
from projects.services import project_create, project_delete

pytestmark = pytest.mark.django_db


@pytest.fixture
def branch(user):
    return project_create(owner=user, name="Files").branches.get()


def _events(branch, name):
    return list(
        ProjectEvent.objects.filter(project=branch.project, name=name).values_list(
            "payload", flat=True
        )
    )


def test_save_update_delete_each_commit_a_step_with_their_event(branch):
    created = services.file_save(branch=branch, path="app.py", text="v1\n")
    updated = services.file_save(branch=branch, path="app.py", text="v2\n")
    deleted = services.file_delete(branch=branch, path="app.py")

    assert [s.step_index for s in (created, updated, deleted)] == [1, 2, 3]
    v1, v2 = FileContent.objects.get(text="v1\n"), FileContent.objects.get(text="v2\n")
    assert [e["path"] for e in _events(branch, "FileCreated")] == ["app.py"]
    assert _events(branch, "FileUpdated")[0]["old_content_id"] == v1.pk
    assert _events(branch, "FileUpdated")[0]["new_content_id"] == v2.pk
    assert _events(branch, "FileDeleted")[0]["old_content_id"] == v2.pk


def test_any_file_can_be_read_at_any_step_and_diffed(branch):
    services.file_save(branch=branch, path="a.txt", text="one\ntwo\n")
    services.file_save(branch=branch, path="a.txt", text="one\nTWO\n")

    at_1 = selectors.file_read(state=selectors.state_get(branch=branch, step=1), path="a.txt")
    at_2 = selectors.file_read(state=selectors.state_get(branch=branch, step=2), path="a.txt")
    diff = selectors.file_diff(old=at_1, new=at_2, path="a.txt")

    assert (at_1.text, at_2.text) == ("one\ntwo\n", "one\nTWO\n")
    assert "-two\n" in diff and "+TWO\n" in diff
    with pytest.raises(selectors.FileNotInState):
        selectors.file_read(state=selectors.state_get(branch=branch, step=0), path="a.txt")


def test_identical_content_is_stored_once_across_projects(user, other_user):
    for owner in (user, other_user):
        b = project_create(owner=owner, name="Same").branches.get()
        services.file_save(branch=b, path="README.md", text="# same text\n")
        services.file_save(branch=b, path="copy.md", text="# same text\n")

    assert FileContent.objects.filter(text="# same text\n").count() == 1


def test_unchanged_write_adds_a_step_but_no_file_rows(branch):
    services.file_save(branch=branch, path="a.txt", text="same")
    rows = StateFile.objects.count()
    services.file_save(branch=branch, path="a.txt", text="same")

    assert StateFile.objects.count() == rows
    assert _events(branch, "FileUpdated") == []


def test_manifest_is_right_across_checkpoints(branch, settings):
    settings.SAMOKODER_CHECKPOINT_EVERY = 3
    expected = {}
    for step in range(1, 11):
        changes = {f"f{step}.txt": f"text {step}"}
        if step % 4 == 0:
            changes[f"f{step - 1}.txt"] = None
        services.files_commit(branch=branch, changes=changes)
        for path, text in changes.items():
            if text is None:
                expected.pop(path)
            else:
                expected[path] = text
        state = selectors.state_get(branch=branch)
        manifest = selectors.state_manifest(state)
        assert {p: FileContent.objects.get(pk=h).text for p, h in manifest.items()} == expected
        assert state.is_checkpoint == (step % 3 == 0)


def test_a_step_is_a_checkpoint_once_the_changes_since_the_last_outnumber_the_files(
    branch, settings
):
    settings.SAMOKODER_CHECKPOINT_EVERY = 1000  # only the rows decide here
    count = services.CHECKPOINT_MIN_ROWS + 16
    expected = {f"f{i}.txt": "start" for i in range(count)}
    services.files_commit(branch=branch, changes=expected)
    committed = {}
    for step in range(2, 40):
        changes = {f"f{(step * 4 + k) % count}.txt": f"step {step}" for k in range(4)}
        state = services.files_commit(branch=branch, changes=changes)
        expected.update(changes)
        committed[step] = (selectors.state_manifest(state), dict(expected))

    checkpoints = ProjectState.objects.filter(branch=branch, is_checkpoint=True)
    # step 1 adds 80 rows (not more than the 80 files); step 2 is the 81st changed row;
    # then 4 rows a step: the 81st comes with step 23.
    assert list(checkpoints.values_list("step_index", flat=True)) == [0, 2, 23]
    selectors.state_replays_forget()
    for step, (remembered, texts) in committed.items():
        replay = selectors.state_replay(selectors.state_get(branch=branch, step=step))
        assert replay.manifest == remembered  # what the commit kept is what is stored
        assert {p: FileContent.objects.get(pk=h).text for p, h in replay.manifest.items()} == texts
        assert replay.replayed <= count


def test_states_stored_with_a_manifest_every_few_steps_read_the_same_after(branch, settings):
    settings.SAMOKODER_CHECKPOINT_EVERY = 2  # as stored before the row rule
    for step in range(1, 6):
        services.files_commit(branch=branch, changes={f"f{step}.txt": f"text {step}"})
    settings.SAMOKODER_CHECKPOINT_EVERY = 1000
    services.files_commit(branch=branch, changes={"f1.txt": None})
    selectors.state_replays_forget()

    latest = selectors.state_get(branch=branch)
    assert sorted(selectors.state_manifest(latest)) == ["f2.txt", "f3.txt", "f4.txt", "f5.txt"]
    older = selectors.state_get(branch=branch, step=3)
    assert sorted(selectors.state_manifest(older)) == ["f1.txt", "f2.txt", "f3.txt"]
    assert not latest.is_checkpoint


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"../escape.txt": "x"}, "path"),
        ({"/etc/passwd": "x"}, "path"),
        ({"ok.txt": "x", "a/../../b": "y"}, "path"),
        ({"bin.dat": "abc\x00def"}, "content"),
        ({"missing.txt": None}, "path"),
    ],
)
def test_refused_changes_write_nothing(branch, changes, field):
    states, files = ProjectState.objects.count(), File.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.files_commit(branch=branch, changes=changes)

    assert field in caught.value.message_dict
    assert (ProjectState.objects.count(), File.objects.count()) == (states, files)
    assert not FileContent.objects.filter(text__in=["x", "y"]).exists()


@translation.override("en")
def test_size_limits_per_file_and_per_project(branch, settings):
    settings.SAMOKODER_MAX_FILE_BYTES = 10
    settings.SAMOKODER_MAX_PROJECT_BYTES = 15
    with pytest.raises(ValidationError, match="larger than 10 bytes"):
        services.file_save(branch=branch, path="big.txt", text="x" * 11)

    services.file_save(branch=branch, path="a.txt", text="x" * 10)
    with pytest.raises(ValidationError, match="project would be larger"):
        services.file_save(branch=branch, path="b.txt", text="y" * 6)
    assert selectors.state_get(branch=branch).step_index == 1


def test_history_lists_the_steps_where_a_file_changed(branch):
    services.file_save(branch=branch, path="a.txt", text="1")
    services.file_save(branch=branch, path="other.txt", text="o")
    services.file_save(branch=branch, path="a.txt", text="2")

    history = [
        (row.state.step_index, row.content_id)
        for row in selectors.file_history(branch=branch, path="a.txt")
    ]
    assert [step for step, _ in history] == [1, 3]


def test_fork_starts_from_the_step_and_then_diverges(branch):
    services.file_save(branch=branch, path="a.txt", text="one")
    services.file_save(branch=branch, path="a.txt", text="two")

    fork = services.branch_fork(source=branch, step=1, name="try-again")
    services.file_save(branch=fork, path="b.txt", text="fork only")

    first = selectors.state_get(branch=fork, step=1)
    latest = selectors.state_get(branch=fork)
    assert (first.step_index, latest.step_index) == (1, 2)
    assert selectors.file_read(state=latest, path="a.txt").text == "one"
    assert selectors.file_read(state=latest, path="b.txt").text == "fork only"
    main_latest = selectors.state_get(branch=branch)
    assert set(selectors.state_manifest(main_latest)) == {"a.txt"}
    assert _events(branch, "BranchCreated")[0]["forked_at_step"] == 1


@pytest.mark.parametrize("name", ["main", "", "has space", "x" * 65, "../up"])
def test_fork_refuses_taken_or_bad_branch_names(branch, name):
    with pytest.raises(ValidationError) as caught:
        services.branch_fork(source=branch, step=0, name=name)
    assert "name" in caught.value.message_dict
    assert branch.project.branches.count() == 1


def test_contents_only_a_deleted_project_used_are_pruned_and_shared_ones_stay(user):
    kept = project_create(owner=user, name="Kept")
    gone = project_create(owner=user, name="Gone")
    services.file_save(branch=kept.branches.get(), path="shared.py", text="SHARED = 1\n")
    services.file_save(branch=gone.branches.get(), path="shared.py", text="SHARED = 1\n")
    services.file_save(branch=gone.branches.get(), path="own.py", text="OWN = 1\n")
    project_delete(project=gone)

    assert (
        services.contents_prune(older_than=timedelta(hours=1)) == 0
    )  # too fresh: a commit may race
    assert services.contents_prune(older_than=timedelta(0)) == 1
    texts = set(FileContent.objects.values_list("text", flat=True))
    assert "SHARED = 1\n" in texts and "OWN = 1\n" not in texts


def test_a_commit_that_follows_the_latest_state_appends_after_it_without_reading_it(branch):
    first = services.file_save(branch=branch, path="a.txt", text="one\n")

    # The new state (one insert, yielding to the unique step index), its file rows and
    # event: no read of the branch's latest, its data or its manifest (kept from the save).
    with CaptureQueriesContext(connection) as captured:
        state = services.files_commit(
            branch=branch, changes={"b.txt": "two\n"}, data={"x": 1}, follows=first
        )

    assert state.step_index == 2 and state.data == {"x": 1}
    assert not [q for q in captured.captured_queries if q["sql"].startswith("SELECT")
                and '"projects_projectstate"' in q["sql"]]  # fmt: skip
    manifest = selectors.state_manifest(selectors.state_get(branch=branch, step=2))
    assert sorted(manifest) == ["a.txt", "b.txt"]


def test_a_commit_that_follows_a_state_another_writer_followed_first_lands_after_the_latest(
    branch,
):
    """The pipeline's step expects its previous step to be the latest; a user's save in
    between took that step index, so the step lands after the save, keeping its file."""
    pipeline_step = services.file_save(branch=branch, path="app.py", text="v1\n")
    users_save = services.file_save(branch=branch, path="notes.md", text="mine\n")

    state = services.files_commit(
        branch=branch, changes={"app.py": "v2\n"}, data={"step": "next"}, follows=pipeline_step
    )

    assert (users_save.step_index, state.step_index) == (2, 3)
    assert ProjectState.objects.get(pk=state.pk).data == {"step": "next"}
    manifest = selectors.state_manifest(selectors.state_get(branch=branch, step=3))
    texts = {path: FileContent.objects.get(pk=h).text for path, h in manifest.items()}
    assert texts == {"app.py": "v2\n", "notes.md": "mine\n"}
    assert [e["path"] for e in _events(branch, "FileUpdated")] == ["app.py"]
    assert branch.states.count() == 4  # 0 to 3: nothing half-written by the first try


@pytest.mark.django_db(transaction=True)
def test_a_save_under_the_branch_lock_lands_after_a_step_taken_without_it(user):
    """The pipeline's step takes its step index with no lock (``follows``); a user's save
    that read the latest before that step committed waits for it, then lands after it
    instead of failing on the unique step index."""
    branch = project_create(owner=user, name="Race").branches.get()
    first = services.file_save(branch=branch, path="a.txt", text="1\n")
    taken, release, saved = threading.Event(), threading.Event(), []

    def pipeline_step() -> None:
        try:
            with transaction.atomic():
                services.files_commit(branch=branch, changes={"b.txt": "2\n"}, follows=first)
                taken.set()
                release.wait(10)  # the step's transaction stays open while the user saves
        finally:
            connection.close()

    def users_save() -> None:
        try:
            saved.append(services.file_save(branch=branch, path="c.txt", text="3\n"))
        finally:
            connection.close()

    step = threading.Thread(target=pipeline_step)
    step.start()
    assert taken.wait(10)
    save = threading.Thread(target=users_save)
    save.start()
    time.sleep(0.5)  # the save has read step 1 as the latest and waits on step 2
    release.set()
    step.join(10)
    save.join(20)

    assert [s.step_index for s in saved] == [3]
    manifest = selectors.state_manifest(selectors.state_get(branch=branch, step=3))
    assert sorted(manifest) == ["a.txt", "b.txt", "c.txt"]
