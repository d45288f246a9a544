import shutil
import tempfile
from pathlib import Path

import pytest

from execution.backends.base import SandboxUnavailable
from execution.models import Container
from execution.proxy import PackageProxy, ProxyUnavailable
from execution.services import container_stop, process_manager

# docker-copy: the Docker backend copying the workspace in and out through the API, as it
# does for a remote DOCKER_HOST, here against the local daemon.
BACKENDS = ["bubblewrap", "docker", "docker-copy"]


@pytest.fixture(params=BACKENDS)
def sandbox(request, settings):
    backend, _, mode = request.param.partition("-")
    settings.SAMOKODER_SANDBOX_BACKEND = backend
    settings.SAMOKODER_DOCKER_COPY_WORKSPACE = mode == "copy"
    try:
        process_manager()
    except SandboxUnavailable as exc:  # a failure in CI, where skips are not allowed
        pytest.skip(str(exc))
    # pytest's tmp_path is private to root (0700); the sandbox uid must reach the folder.
    workspaces = Path(tempfile.mkdtemp(prefix="samokoder-probes-", dir="/tmp"))
    workspaces.chmod(0o755)
    settings.SAMOKODER_WORKSPACES_DIR = str(workspaces)
    yield backend
    for container in Container.objects.filter(status=Container.Status.RUNNING):
        container_stop(container=container, reason="test over")
    shutil.rmtree(workspaces, ignore_errors=True)


@pytest.fixture(scope="session")
def package_proxy_server():
    """The session's Squid, as `make run` starts it: the settings' allow-list and upstream."""
    from django.conf import settings

    run_dir = Path(tempfile.mkdtemp(prefix="samokoder-proxy-", dir="/tmp"))
    proxy = PackageProxy(
        hosts=settings.SAMOKODER_PACKAGE_HOSTS,
        run_dir=run_dir,
        upstream=settings.SAMOKODER_PACKAGE_UPSTREAM_PROXY,
    )
    try:
        proxy.start()
    except ProxyUnavailable as exc:  # a failure in CI, where skips are not allowed
        pytest.skip(str(exc))
    yield proxy
    proxy.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def package_proxy(package_proxy_server, settings):
    """The session's proxy, named in the settings as scripts/with_proxy.py names it."""
    settings.SAMOKODER_PACKAGE_PROXY = package_proxy_server.url
    settings.SAMOKODER_PACKAGE_PROXY_LOG = str(package_proxy_server.access_log)
    return package_proxy_server
