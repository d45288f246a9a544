"""deploy/compose.yaml against what it must agree with: the Procfile, the image, the settings."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.balancer import write_config
from deploy.entrypoint import PROCFILE, procfile_commands

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
REQUIRED = {"SECRET_KEY": "s", "SAMOKODER_ENCRYPTION_KEYS": "k", "POSTGRES_PASSWORD": "p",
            "ALLOWED_HOSTS": "samokoder.example.com",
            "SAMOKODER_PREVIEW_ORIGIN": "https://preview.example-preview.net"}  # fmt: skip
# Read by something else than settings.py: the init (tini), the Procfile's shell, the
# preview listener's launcher (preview/serve.py).
NOT_SETTINGS = {"TINI_KILL_PROCESS_GROUP", "SAMOKODER_PREVIEW_BIND", "SAMOKODER_PREVIEW_PORT"}
# Run the Procfile line named last: the package proxy's launcher may come first.
WRAPPERS = (["python", "scripts/with_proxy.py"],)


def interpolate(value: str) -> str:
    """``${NAME:-default}`` as compose reads it with nothing set but the required names."""

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.groups()
        return REQUIRED.get(name, "") if kind == ":?" else default

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", one, value)


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def app_services(services: dict) -> dict:
    image = services["web"]["image"]
    return {name: s for name, s in services.items() if s.get("image") == image}


def procfile_process(service: dict) -> str | None:
    """The Procfile process a service ends up running through the image's entrypoint."""
    command = list(service["command"])
    for wrapper in WRAPPERS:
        if command[: len(wrapper)] == wrapper:
            command = command[len(wrapper) :]
    if command[:2] == ["python", "deploy/entrypoint.py"]:
        command = command[2:]
    return command[0] if len(command) == 1 else None


def test_the_image_runs_procfile_processes_by_name():
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", DOCKERFILE.read_text(), re.M)

    assert entrypoint is not None
    assert yaml.safe_load(entrypoint.group(1)) == ["python", "deploy/entrypoint.py"]


def test_every_procfile_process_is_the_service_of_its_name(services):
    processes = procfile_commands(PROCFILE.read_text())

    assert set(processes) == {"web", "worker", "housekeeping", "beat", "preview", "previews"}
    for name in processes:
        assert procfile_process(services[name]) == name, name
    running = [procfile_process(s) for s in app_services(services).values()]
    assert sorted(p for p in running if p) == sorted(processes)  # each once, none unknown


def test_web_binds_every_address_in_the_image_and_only_loopback_under_make_run():
    web = procfile_commands(PROCFILE.read_text())["web"]

    assert "${SAMOKODER_BIND:-127.0.0.1}" in web
    assert re.search(r"^\s+SAMOKODER_BIND=0\.0\.0\.0", DOCKERFILE.read_text(), re.M)


def test_health_checks_ask_readyz_of_web_and_healthz_of_the_image_and_balancer(services):
    def check(service: dict) -> str:
        return " ".join(service["healthcheck"]["test"])

    assert "deploy/healthcheck.py /readyz" in check(services["web"])
    assert "deploy/healthcheck.py /healthz 8080" in check(services["balancer"])
    image_check = r"HEALTHCHECK .*\n.*deploy/healthcheck\.py\", \"/healthz"
    assert re.search(image_check, DOCKERFILE.read_text())
    for name in ("worker", "housekeeping"):
        hostname = "celery" if name == "worker" else name
        assert f"--destination {hostname}@$$HOSTNAME" in check(services[name])
    for name in ("postgres", "redis"):
        assert "disable" not in services[name]["healthcheck"]
    unchecked = {n for n, s in services.items() if s.get("healthcheck", {}).get("disable")}
    assert unchecked == {"migrate", "beat"}


def test_the_balancer_waits_for_ready_web_and_everything_for_the_schema(services):
    assert services["balancer"]["depends_on"]["web"]["condition"] == "service_healthy"
    for name in ("web", "worker", "housekeeping", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]


def test_workers_see_the_docker_socket_and_the_workspaces_at_the_same_path(services):
    for name in ("worker", "housekeeping", "previews"):
        service = services[name]
        workspaces = interpolate(service["environment"]["SAMOKODER_WORKSPACES_DIR"])
        volumes = [interpolate(v) for v in service["volumes"]]

        assert service["environment"]["SAMOKODER_SANDBOX_BACKEND"] == "docker"
        assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
        # The daemon reads bind sources on its host: the worker's path must be the host's.
        assert f"{workspaces}:{workspaces}" in volumes


def test_the_environment_names_only_variables_the_settings_read(services):
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^(\w+)=", example, re.M))

    for name, service in app_services(services).items():
        unknown = set(service["environment"]) - listed - NOT_SETTINGS
        assert not unknown, f"{name}: {unknown}"


def test_the_balancer_config_from_the_make_scale_template_passes_nginx_t(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    static = tmp_path / "static"
    static.mkdir()
    config = write_config(
        workdir=tmp_path, listen="127.0.0.1:18080", upstreams=["web:8000", "127.0.0.1:9"],
        static_root=str(static),
    )  # fmt: skip
    text = config.read_text()
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-c", str(config), "-p", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip

    # "web" cannot be resolved here: nginx names it, having read everything else.
    assert 'host not found in upstream "web:8000"' in result.stderr, result.stderr
    assert "listen 127.0.0.1:18080;" in text and "server 127.0.0.1:9 max_fails=0;" in text
    assert (tmp_path / "nginx.access.log").readlink() == Path("/dev/stdout")


def test_docker_compose_accepts_the_file_and_refuses_it_without_the_secrets():
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    command = ["docker-compose", "-f", str(COMPOSE_FILE), "config", "--services"]
    env = {"PATH": "/usr/bin:/bin"}
    accepted = subprocess.run(command, capture_output=True, text=True, env={**env, **REQUIRED})
    refused = subprocess.run(command, capture_output=True, text=True, env=env)

    assert accepted.returncode == 0, accepted.stderr
    assert set(accepted.stdout.split()) == {
        "postgres", "redis", "migrate", "web", "worker", "housekeeping", "beat", "balancer",
        "sandbox-image", "preview", "previews",
    }  # fmt: skip
    assert refused.returncode != 0 and "set " in refused.stderr


def test_the_debian_images_keep_the_registry_images_data_folders_and_checks(services):
    override = yaml.safe_load((ROOT / "deploy" / "compose.debian.yaml").read_text())["services"]

    assert set(override) == {"postgres", "redis"}  # the rest of compose.yaml as it is
    for name, service in override.items():
        assert set(service) == {"image", "build"}, name  # same environment, volumes, checks
        dockerfile = ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]
        text = dockerfile.read_text()
        volume = re.search(r"^VOLUME (\S+)$", text, re.M)
        assert volume is not None, name
        mounted = [v.split(":")[1] for v in services[name]["volumes"]]
        assert mounted == [volume.group(1)], name
        # The package that brings the server and its health check's client (pg_isready,
        # redis-cli).
        package = {"postgres": "postgresql-15", "redis": "redis-server"}[name]
        assert f"--no-install-recommends {package}" in text, name


def test_docker_compose_accepts_the_debian_and_check_overrides():
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    files = ["compose.yaml", "compose.debian.yaml", "compose.check.yaml"]
    command = ["docker-compose", "--project-directory", str(ROOT / "deploy")]
    for name in files:
        command += ["-f", str(ROOT / "deploy" / name)]
    result = subprocess.run(
        [*command, "config"], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", **REQUIRED},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)["services"]
    assert config["postgres"]["image"].startswith("samokoder-postgres:")
    assert config["postgres"]["build"]["network"] == "host"  # the daemon may have no bridge
    assert config["llm-replay"]["image"] == config["web"]["image"]
