"""Bring deploy/compose.yaml up for real, check it end to end through the balancer, take it
down again (`make deploy-check`).

    python scripts/compose_check.py [--no-build] [--keep] [--no-generation]

 1. images: the app (scripts/build_app_image.sh), the sandbox (scripts/build_sandbox_image.sh),
    PostgreSQL and Redis from Debian packages (deploy/compose.debian.yaml); --no-build
    takes the ones the daemon has
 2. `up -d` with web=2 worker=2 plus the LLM replay server (deploy/compose.check.yaml);
    waits until every health check says healthy and migrate has exited 0
 3. through the balancer: /healthz and /readyz answer 200; a user registers, takes a
    token and creates a project over the API; a WebSocket on the project answers; a static
    file the login page links is served by nginx
 4. a generation run of the reference transcript: a worker drives it, its commands run in
    a Docker sandbox, every event arrives over the socket, the files are the expected ones
 5. web scaled to 3 and the balancer restarted: requests reach all three web containers
 6. `down -v` (not with --keep), and the sandboxes of the check's project removed

It prints each check with its time and exits 1 at the first failure, after the logs of
the services that were not ready. Docker: DOCKER_HOST (a unix:// socket; default
/var/run/docker.sock), whose socket the workers mount. Root, or SAMOKODER_WORKSPACES set
to a folder uid 10001 owns. Heavy (image builds, a dozen containers): not in the pytest suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import httpx
import websockets
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROJECT = "samokoder-check"
COMPOSE_FILES = ("compose.yaml", "compose.debian.yaml", "compose.check.yaml")
SANDBOX_UID = 10001
ONE_SHOT = {"migrate", "sandbox-image"}  # done when exited 0
SERVICES = {"postgres": 1, "redis": 1, "migrate": 1, "sandbox-image": 1, "llm-replay": 1,
            "web": 2, "worker": 2, "housekeeping": 1, "previews": 1, "preview": 1, "beat": 1,
            "balancer": 1}  # fmt: skip
# What a TLS terminator in front of the balancer sends (compose.yaml: TLS ends there).
FORWARDED = {"X-Forwarded-Proto": "https"}
TRANSCRIPT = ROOT / "tests" / "generation" / "transcripts" / "reference.json"
DESCRIPTION = (
    "A command-line word counter: `python3 wordcount.py FILE` prints the number of lines, "
    "words and characters. Standard library only, with unittest tests."
)
ANSWER = "No, a file path is required."
STARTED = time.monotonic()


class CheckFailed(Exception):
    pass


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {text}", flush=True)


@contextmanager
def step(name: str) -> Iterator[dict[str, str]]:
    """Times one check; the block may put a ``detail`` in the dict it gets."""
    started, note = time.monotonic(), {"detail": ""}
    yield note
    detail = f": {note['detail']}" if note["detail"] else ""
    say(f"ok   {name} ({time.monotonic() - started:.1f} s){detail}")


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --- The stack -----------------------------------------------------------------------------


def docker_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        sys.exit(f"DOCKER_HOST={host}: the workers mount the daemon's socket, so use a local one")
    return host.removeprefix("unix://")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def workspaces_folder() -> tuple[Path, Path | None]:
    """The sandboxes' workspaces (same path in the workers as here); the folder to remove."""
    if given := os.environ.get("SAMOKODER_WORKSPACES"):
        return Path(given), None
    if os.geteuid() != 0:
        sys.exit(f"not root: set SAMOKODER_WORKSPACES to a folder uid {SANDBOX_UID} owns")
    top = Path(tempfile.mkdtemp(prefix="samokoder-check-"))
    top.chmod(0o755)
    workspaces = top / "workspaces"
    workspaces.mkdir()
    os.chown(workspaces, SANDBOX_UID, SANDBOX_UID)
    return workspaces, top


def stack_env(*, workspaces: Path, http_port: int, preview_port: int) -> dict[str, str]:
    """compose.yaml's variables: fresh secrets, loopback ports, this daemon's socket."""
    sock = docker_socket()
    return {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SAMOKODER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SAMOKODER_PREVIEW_ORIGIN": f"http://preview.localhost:{preview_port}",
        "HTTP_PORT": f"127.0.0.1:{http_port}",
        "PREVIEW_HTTP_PORT": f"127.0.0.1:{preview_port}",
        "SAMOKODER_WORKSPACES": str(workspaces),
        "DOCKER_SOCKET": sock,
        "DOCKER_GID": str(os.stat(sock).st_gid),
        "OPENAI_BASE_URL": "http://llm-replay:8090/v1",
    }


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.docker = docker.from_env()

    def compose(self, *args: str, quiet: bool = True) -> None:
        command = ["docker-compose", "-p", PROJECT]
        for name in COMPOSE_FILES:
            command += ["-f", str(DEPLOY / name)]
        result = subprocess.run(
            [*command, *args], env=self.env, cwd=DEPLOY, capture_output=quiet, text=True
        )
        if result.returncode != 0:
            raise CheckFailed(f"docker-compose {' '.join(args)}: {(result.stderr or '')[-3000:]}")

    def containers(self, service: str | None = None) -> list:
        labels = [f"com.docker.compose.project={PROJECT}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return self.docker.containers.list(all=True, filters={"label": labels})

    def wait_ready(self, counts: dict[str, int], *, timeout: float = 300) -> None:
        """Until each service has ``counts[service]`` ready containers; says when each was."""
        started, pending = time.monotonic(), dict(counts)
        while pending:
            for service in list(pending):
                states = [container_state(c) for c in self.containers(service)]
                if bad := [s for s in states if s.startswith("failed")]:
                    raise CheckFailed(f"{service}: {bad[0]}\n{self.logs(service)}")
                if states.count("ready") >= pending[service]:
                    say(f"     {service} x{pending.pop(service)} ready at "
                        f"{time.monotonic() - started:.1f} s")  # fmt: skip
            if pending and time.monotonic() - started > timeout:
                logs = "\n".join(self.logs(s) for s in pending)
                raise CheckFailed(f"not ready after {timeout:.0f} s: {sorted(pending)}\n{logs}")
            time.sleep(1)

    def logs(self, service: str, tail: int = 30) -> str:
        parts = []
        for container in self.containers(service):
            text = container.logs(tail=tail).decode(errors="replace")
            parts.append(f"--- {container.name} ({container_state(container)})\n{text}")
        return "\n".join(parts)

    def remove_sandboxes(self, project_id: str) -> int:
        found = self.docker.containers.list(all=True, filters={"label": f"project_id={project_id}"})
        for container in found:
            container.remove(force=True)
        return len(found)


def container_state(container) -> str:
    """``ready``, ``starting`` or ``failed: why``."""
    container.reload()
    state = container.attrs["State"]
    service = container.labels.get("com.docker.compose.service")
    if service in ONE_SHOT and state["Status"] == "exited":
        return "ready" if state["ExitCode"] == 0 else f"failed: exited {state['ExitCode']}"
    if container.attrs.get("RestartCount"):
        return f"failed: restarted {container.attrs['RestartCount']} times"
    if state["Status"] in ("exited", "dead"):
        return f"failed: {state['Status']} ({state['ExitCode']})"
    health = state.get("Health", {}).get("Status")
    if health == "unhealthy":
        return "failed: unhealthy"
    return "ready" if state["Status"] == "running" and health in (None, "healthy") else "starting"


# --- Checks through the balancer -----------------------------------------------------------


def build_images(stack: Stack) -> None:
    with step("app image (scripts/build_app_image.sh)"):
        run_script("build_app_image.sh")
    with step("sandbox image (scripts/build_sandbox_image.sh)"):
        run_script("build_sandbox_image.sh")
    with step("PostgreSQL and Redis from Debian packages (compose.debian.yaml)"):
        stack.compose("build", "postgres", "redis")


def run_script(name: str) -> None:
    result = subprocess.run(["bash", str(ROOT / "scripts" / name)], capture_output=True, text=True)
    if result.returncode != 0:
        raise CheckFailed(f"{name}: {result.stderr[-3000:]}")


def check_probes(api: httpx.Client) -> None:
    with step("GET /healthz through the balancer") as note:
        response = api.get("/healthz")
        expect(response.status_code == 200, f"/healthz: {response.status_code} {response.text}")
        note["detail"] = response.text
    with step("GET /readyz through the balancer") as note:
        response = api.get("/readyz")
        body = response.json()
        expect(response.status_code == 200, f"/readyz: {response.status_code} {response.text}")
        expect(body["checks"] == {"database": True, "redis": True}, f"/readyz: {body}")
        note["detail"] = json.dumps(body["checks"])


def check_account_and_project(api: httpx.Client) -> tuple[str, str]:
    """A new user's token and project id, over the API."""
    email, password = f"check-{uuid.uuid4().hex[:12]}@example.com", secrets.token_urlsafe(16)
    with step("register, token, project over the API") as note:
        credentials = {"email": email, "password": password}
        registered = api.post("/api/v1/auth/register", json=credentials)
        expect(
            registered.status_code == 201, f"register: {registered.status_code} {registered.text}"
        )
        issued = api.post("/api/v1/auth/token", json=credentials)
        expect(issued.status_code == 200, f"token: {issued.status_code} {issued.text}")
        token = issued.json()["access"]
        api.headers["Authorization"] = f"Bearer {token}"
        created = api.post(
            "/api/v1/projects", json={"name": "Word counter", "description": DESCRIPTION}
        )
        expect(created.status_code == 201, f"project: {created.status_code} {created.text}")
        project_id = created.json()["id"]
        note["detail"] = f"{email}, project {project_id}"
    return token, project_id


def ws_connect(base: str, project_id: str, token: str):
    url = f"{base.replace('http://', 'ws://')}/ws/projects/{project_id}/"
    headers = {"Authorization": f"Bearer {token}", "Origin": "http://localhost"}
    return websockets.connect(url, additional_headers=headers, open_timeout=10)


def check_websocket(base: str, project_id: str, token: str) -> None:
    async def ping() -> float:
        async with ws_connect(base, project_id, token) as ws:
            return await asyncio.wait_for(await ws.ping(), 10)

    with step("WebSocket /ws/projects/<id>/ through the balancer") as note:
        try:
            latency = asyncio.run(ping())
        except websockets.ConnectionClosed as exc:
            raise CheckFailed(f"the socket was closed: {exc}") from exc
        note["detail"] = f"upgraded, authenticated, pong in {latency * 1000:.1f} ms"


def check_static(api: httpx.Client) -> None:
    with step("static files from the balancer") as note:
        page = api.get("/accounts/login/")
        expect(page.status_code == 200, f"login page: {page.status_code}")
        links = sorted({part.split('"')[0] for part in page.text.split('"/static/')[1:]})
        expect(links, "the login page links no /static/ file")
        for link in links:
            response = api.get(f"/static/{link}")
            expect(response.status_code == 200, f"/static/{link}: {response.status_code}")
            server = response.headers.get("server", "")
            expect(server.startswith("nginx"), f"/static/{link} served by {server!r}, not nginx")
        note["detail"] = f"{len(links)} files linked by /accounts/login/, served by nginx"


# --- A generation run ----------------------------------------------------------------------


def expected_files() -> dict[str, str]:
    """The reference run's result: the tests as written, the module as fixed."""
    entries = json.loads(TRANSCRIPT.read_text())["responses"]
    tests = json.loads([e for e in entries if e["agent"] == "CodeMonkey"][1]["text"])
    fix = json.loads(next(e for e in entries if e["agent"] == "BugHunter")["text"])["files"][0]
    return {tests["path"]: tests["content"], fix["path"]: fix["content"]}


async def generate(base: str, project_id: str, token: str) -> tuple[dict, list[dict]]:
    """Starts a run, answers its question, reads its events off the socket until it ends."""
    headers = {"Authorization": f"Bearer {token}", **FORWARDED}
    events: list[dict] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api, \
            ws_connect(base, project_id, token) as ws:  # fmt: skip
        key = {"provider": "openai", "api_key": f"sk-compose-check-{secrets.token_hex(8)}"}
        stored = await api.post("/api/v1/keys", json=key)
        expect(stored.status_code == 201, f"key: {stored.status_code} {stored.text}")
        started = await api.post(f"/api/v1/projects/{project_id}/runs", json={})
        expect(started.status_code == 201, f"run: {started.status_code} {started.text}")
        run_id = started.json()["id"]
        reader = asyncio.create_task(read_events(ws, events))
        try:
            run = await follow_run(api, run_id, timeout=240)
        finally:
            await asyncio.sleep(1)  # the last frame may trail the status by a moment
            reader.cancel()
    return run, events


async def read_events(ws, events: list[dict]) -> None:
    async for message in ws:
        frame = json.loads(message)
        if frame.get("type") == "events":
            events.extend(frame["events"])


async def follow_run(api: httpx.AsyncClient, run_id: str, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = (await api.get(f"/api/v1/runs/{run_id}")).json()
        if run["status"] == "awaiting_input":
            answered = await api.post(f"/api/v1/runs/{run_id}/answer", json={"answer": ANSWER})
            expect(answered.status_code == 200, f"answer: {answered.status_code} {answered.text}")
        elif run["status"] in ("completed", "failed", "cancelled"):
            return run
        await asyncio.sleep(0.5)
    raise CheckFailed(f"run {run_id} still {run['status']} after {timeout:.0f} s")


def check_generation(
    stack: Stack, api: httpx.Client, base: str, project_id: str, token: str
) -> None:
    with step("generation run: worker, Docker sandbox, events over the socket") as note:
        run, events = asyncio.run(generate(base, project_id, token))
        expect(run["status"] == "completed", f"run {run['status']}: {run['reason']}")
        seqs, names = [e["seq"] for e in events], [e["name"] for e in events]
        expect(
            seqs == list(range(1, run["last_seq"] + 1)),
            f"socket events {seqs} of {run['last_seq']}",
        )
        ends = names[:1] + names[-1:]
        expect(ends == ["GenerationStarted", "GenerationCompleted"], f"socket events {names}")
        commands = [
            e["payload"]["exit_code"] for e in events if e["name"] == "PipelineCommandExecuted"
        ]
        expect(commands == [1, 0, 0], f"sandbox commands' exit codes: {commands}")
        files = {}
        for path in expected_files():
            response = api.get(f"/api/v1/projects/{project_id}/files/{path}")
            expect(response.status_code == 200, f"{path}: {response.status_code}")
            files[path] = response.json()["content"]
        expect(files == expected_files(), "the project's files are not the reference run's")
        sandboxes = stack.docker.containers.list(
            all=True, filters={"label": f"project_id={project_id}"}
        )
        expect(sandboxes, "no sandbox container of the project on the daemon")
        sandbox = f"{sandboxes[0].name} ({sandboxes[0].attrs['Config']['Image']})"
        note["detail"] = (
            f"{len(events)} events over the socket, {run['llm_calls']} LLM calls, "
            f"unittest exit codes {commands} in {sandbox}, {len(files)} files"
        )


# --- Scaling -------------------------------------------------------------------------------


def check_scale(stack: Stack, api: httpx.Client) -> None:
    with step("web scaled to 3 (up -d --scale web=3)"):
        stack.compose("up", "-d", "--no-recreate", "--scale", "web=3", "--scale", "worker=2")
        stack.wait_ready({"web": 3})
    with step("balancer restarted"):
        stack.compose("restart", "balancer")
        wait_until(lambda: probe(api), 60, "the balancer does not answer after its restart")
        stack.wait_ready({"balancer": 1})
    with step("requests spread over the 3 web containers") as note:
        marker = uuid.uuid4().hex
        for index in range(30):
            response = api.get(f"/healthz?check={marker}-{index}")
            expect(response.status_code == 200, f"/healthz: {response.status_code}")
        served = {}
        for container in stack.containers("web"):
            served[container.name] = container.logs().decode(errors="replace").count(marker)
        expect(len(served) == 3 and all(served.values()), f"requests per web container: {served}")
        note["detail"] = ", ".join(f"{name} {count}" for name, count in sorted(served.items()))


def probe(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise CheckFailed(message)
        time.sleep(0.5)


# --- Main ----------------------------------------------------------------------------------


def take_down(stack: Stack, project_id: str) -> bool:
    try:
        with step("down -v") as note:
            removed = stack.remove_sandboxes(project_id) if project_id else 0
            stack.compose("down", "-v", "--remove-orphans")
            note["detail"] = f"and {removed} sandbox container(s) of the check's project"
    except CheckFailed as exc:
        say(f"FAIL {exc}")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-build", action="store_true", help="use the images the daemon has")
    parser.add_argument("--keep", action="store_true", help="leave the stack up afterwards")
    parser.add_argument("--no-generation", action="store_true", help="skip the generation run")
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        sys.exit("docker-compose is not installed (apt-get install docker-compose)")
    workspaces, temporary = workspaces_folder()
    http_port, preview_port = free_port(), free_port()
    stack = Stack(stack_env(workspaces=workspaces, http_port=http_port, preview_port=preview_port))
    base = f"http://127.0.0.1:{http_port}"
    say(f"project {PROJECT}, balancer {base}, workspaces {workspaces}, "
        f"DOCKER_HOST {stack.env.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}")  # fmt: skip
    project_id, failed = "", False
    try:
        if not args.no_build:
            build_images(stack)
        with step("up -d (web=2, worker=2): every health check healthy"):
            stack.compose("up", "-d", "--scale", "web=2", "--scale", "worker=2")
            stack.wait_ready(SERVICES)
        with httpx.Client(base_url=base, headers=FORWARDED, timeout=30) as api:
            check_probes(api)
            token, project_id = check_account_and_project(api)
            check_websocket(base, project_id, token)
            check_static(api)
            if not args.no_generation:
                check_generation(stack, api, base, project_id, token)
            check_scale(stack, api)
    except CheckFailed as exc:
        failed = True
        say(f"FAIL {exc}")
    finally:
        if not args.keep:
            failed = not take_down(stack, project_id) or failed
            if temporary:
                shutil.rmtree(temporary, ignore_errors=True)
    say("deploy check FAILED" if failed else "deploy check passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
