"""The production process model on one machine (deploy/cluster.py, `make scale`): two
daphne processes behind nginx, two Celery workers and beat, eight projects generating at
once over the replay server, WebSocket watchers spread over both daphne processes. One
worker is killed with SIGKILL mid-run and one daphne is restarted mid-run: every watcher
still receives every event of its project once and in order, and no step is taken twice.
Then a preview started through the balancer is run by the cluster's previews worker and
opened on the preview origin with its entry link.
"""

import asyncio
import json
import os
import socket
import threading
import time

import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import key_store
from deploy.cluster import Cluster
from files.selectors import state_get, state_texts
from generation.models import GenerationRun
from projects.services import project_create
from tests.accounts.factories import UserFactory
from tests.generation.scenario import ANSWER, DESCRIPTION, expected_files, reference
from tests.preview.apps import TODO_APP, server_step

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 8
WATCHERS_PER_RUN = 2
TERMINAL = {"GenerationCompleted", "GenerationFailed", "GenerationCancelled"}
ORIGIN = "http://127.0.0.1"  # an allowed host, as a browser on the balancer would send


class Watcher:
    """A browser tab on one run: reads frames, reconnects with `after=` when dropped."""

    def __init__(self, base: str, run_id: str, project_id: str, token: str) -> None:
        self.url = f"{base.replace('http', 'ws')}/ws/projects/{project_id}/?run={run_id}"
        self.token, self.reconnects = token, 0
        self.seqs: list[int] = []
        self.names: list[str] = []
        self.error: str | None = None

    async def watch(self, session, deadline: float) -> None:
        while time.monotonic() < deadline:
            after = self.seqs[-1] if self.seqs else 0
            try:
                async with session.ws_connect(
                    f"{self.url}&after={after}", headers={
                        "Authorization": f"Bearer {self.token}", "Origin": ORIGIN},
                ) as ws:  # fmt: skip
                    if await self._read(ws):
                        return
            except Exception as exc:  # a daphne restarting refuses or drops the socket
                self.error = f"{type(exc).__name__}: {exc}"
            self.reconnects += 1
            await asyncio.sleep(0.2)
        self.error = f"timed out after {self.seqs[-1:]}"

    async def _read(self, ws) -> bool:
        async for message in ws:
            frame = json.loads(message.data)
            if frame.get("type") != "events":
                continue
            for event in frame["events"]:
                self.seqs.append(event["seq"])
                self.names.append(event["name"])
            if self.names and self.names[-1] in TERMINAL:
                return True
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _transcript(keys: list[str], slow_key: str) -> dict:
    """One reference transcript per user key; `slow_key`'s first TechLead answer takes 30 s
    (the worker holding that run is killed while it waits for it)."""
    responses = []
    for key in keys:
        if key == slow_key:
            responses.append({"agent": "TechLead", "text": "{}", "key": key,
                              "fault": {"delay": 30}})  # fmt: skip
        responses += [{**entry, "key": key} for entry in reference()["responses"]]
    return {"version": 1, "responses": responses}


def _owner_worker(cluster: Cluster, run: GenerationRun):
    """The cluster worker whose pool child drives `run` (the run records host:pid)."""
    pid = int(run.worker.rsplit(":", 1)[1])
    group = os.getpgid(pid)
    return next(w for w in cluster.workers if w.pid == group)


def _wait(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(message)


@pytest.fixture
def cluster(worker_env, sandbox_ready, pipeline_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    folder.chmod(0o755)
    env = {**worker_env, "SAMOKODER_RESUME_STALE_EVERY": "1",
           # `make scale`'s preview origin and its worker, apart from the session's own.
           "SAMOKODER_PREVIEW_ORIGIN": f"http://preview.localhost:{_free_port()}",
           "SAMOKODER_PREVIEW_FRONT_DIR": str(folder / "preview")}  # fmt: skip
    started = Cluster(
        web=2, workers=2, port=_free_port(), env=env, workdir=folder, previews=True
    ).start()
    yield started
    started.stop()


def test_eight_runs_survive_a_killed_worker_and_a_restarted_daphne(cluster, replay):
    users = [UserFactory() for _ in range(RUNS)]
    keys = [f"sk-scale-{index:02d}-{'0' * 24}" for index in range(RUNS)]
    projects = []
    for user, key in zip(users, keys, strict=True):
        key_store(user=user, provider="openai", api_key=key)
        projects.append(project_create(owner=user, name="Word counter", description=DESCRIPTION))
    replay.load_dict(_transcript(keys, slow_key=keys[0]))
    tokens = [str(RefreshToken.for_user(user).access_token) for user in users]
    api = httpx.Client(base_url=cluster.url, timeout=30)

    run_ids = []
    for project, token in zip(projects, tokens, strict=True):
        response = api.post(f"/api/v1/projects/{project.pk}/runs", json={},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code == 201, response.text
        run_ids.append(response.json()["id"])
    watchers = [
        Watcher(cluster.url, run_id, str(project.pk), token)
        for run_id, project, token in zip(run_ids, projects, tokens, strict=True)
        for _ in range(WATCHERS_PER_RUN)
    ]
    watching = threading.Thread(target=asyncio.run, args=(_watch_all(watchers),), daemon=True)
    watching.start()

    # Answer each run's question through the balancer as it comes.
    answered: set[str] = set()

    def answer_waiting() -> bool:
        for run_id, token in zip(run_ids, tokens, strict=True):
            if run_id not in answered and GenerationRun.objects.get(pk=run_id).status == (
                "awaiting_input"
            ):
                response = api.post(f"/api/v1/runs/{run_id}/answer", json={"answer": ANSWER},
                                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                assert response.status_code == 200, response.text
                answered.add(run_id)
        return len(answered) == RUNS

    # Mid-run: the first run's worker waits on its slow TechLead answer; kill it (-9).
    def slow_run_waiting():
        answer_waiting()
        asked = any(r["agent"] == "TechLead" and r["api_key"] == keys[0] for r in replay.requests)
        return asked and GenerationRun.objects.get(pk=run_ids[0])

    held = _wait(slow_run_waiting, 120, "the first run never asked its TechLead")
    killed = _owner_worker(cluster, held)
    killed.kill()
    # Mid-run as well: one daphne goes away and comes back; its sockets must resume.
    assert GenerationRun.objects.get(pk=run_ids[0]).status == "running"
    cluster.restart_web(0)

    _wait(answer_waiting, 180, "not every run asked its question")
    watching.join(timeout=240)
    assert not watching.is_alive(), "watchers did not finish"

    summary = []
    for run_id, project in zip(run_ids, projects, strict=True):
        run = GenerationRun.objects.get(pk=run_id)
        assert run.status == "completed", (run.status, run.reason)
        branch = project.branches.get(name="main")
        files = dict(state_texts(state=state_get(branch=branch)))
        assert files == expected_files(reference())
        steps = list(branch.states.order_by("step_index").values_list("step_index", flat=True))
        assert steps == list(range(len(steps))) and len(steps) == 14  # no step twice
        logged = list(run.events.order_by("seq").values_list("seq", "name"))
        for watcher in (w for w in watchers if w.url.endswith(f"run={run_id}")):
            assert list(zip(watcher.seqs, watcher.names, strict=True)) == logged, watcher.error
            summary.append((run_id[:8], len(logged), watcher.reconnects))
    taken_over = GenerationRun.objects.get(pk=run_ids[0])
    assert taken_over.events.filter(name="GenerationResumed", payload__after="crash").exists()
    assert sum(w.reconnects for w in watchers) > 0, "no socket was on the restarted web process"
    for index in range(2):  # the balancer spread the sockets over both web processes
        log = (cluster.workdir / f"web-{index + 1}.log").read_text()
        assert '"WebSocket /ws/projects/' in log, f"web-{index + 1} served no socket"
    static = api.get("/static/css/app.css")
    assert static.status_code == 200 and static.headers["server"].startswith("nginx")
    health = httpx.get(f"http://127.0.0.1:{cluster.preview_port}/_samokoder/healthz")
    assert health.status_code == 200, "the preview origin does not answer"
    assert all(service.alive() for service in cluster.previews)
    assert " ready." in (cluster.workdir / "previews.log").read_text()
    opened = _preview_through_the_origin(cluster, api, users[1], tokens[1], tokens[2])
    print(f"\nscale: 2 web, 2 workers (killed {killed.name}), restarted web-1, preview "
          f"origin on {cluster.preview_port} and its worker ({opened}); "
          f"per watcher (run, events, reconnects): {summary}")  # fmt: skip


def _preview_through_the_origin(cluster: Cluster, api: httpx.Client, owner, token: str,
                                stranger_token: str) -> str:  # fmt: skip
    """A preview started through the balancer, run by the cluster's previews worker and
    opened on the preview origin with its entry link, as the project page's button does;
    another user cannot see it. Stopped through the balancer again."""
    project = project_create(owner=owner, name="Todo")
    server_step(project.branches.get(), files={"app.py": TODO_APP},
                run_command="python3 app.py", port=5000)  # fmt: skip
    url = f"/api/v1/projects/{project.pk}/preview"
    owners, strangers = ({"Authorization": f"Bearer {t}"} for t in (token, stranger_token))
    started = api.post(url, json={}, headers=owners)
    assert started.status_code == 201, started.text
    assert api.get(url, headers=strangers).status_code == 404

    def running():
        body = api.get(url, headers=owners).json()
        assert body["status"] in {"starting", "running"}, body
        return body if body["status"] == "running" else None

    body = _wait(running, 90, "the preview never ran")
    entry = httpx.URL(body["open_url"])
    origin = httpx.Client(base_url=f"http://127.0.0.1:{cluster.preview_port}", timeout=15,
                          headers={"Host": entry.netloc.decode()})  # fmt: skip
    admitted = origin.get(entry.raw_path.decode())
    assert admitted.status_code == 302, admitted.text
    cookie = admitted.headers["set-cookie"].split(";", 1)[0]
    page = origin.get("/", headers={"Cookie": cookie})
    assert page.status_code == 200 and "<h1>Todo</h1>" in page.text, page.text[:300]
    assert origin.get("/").status_code == 403  # no cookie: the gateway's refusal
    stopped = api.delete(url, headers=owners)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    return f"preview {body['id'][:8]} served on {entry.host}, stopped"


async def _watch_all(watchers: list[Watcher]) -> None:
    import aiohttp

    deadline = time.monotonic() + 220
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(w.watch(session, deadline) for w in watchers))
