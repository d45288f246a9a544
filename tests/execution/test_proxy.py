"""The package proxy itself: its allow-list, chaining to a parent, and its launcher."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from execution.proxy import PackageProxy, squid_config

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES = ["pypi.org", "files.pythonhosted.org", "registry.npmjs.org"]


def through(proxy_url: str, url: str) -> str:
    """HTTP status of ``url`` fetched through the proxy, and the CONNECT answer."""
    answer = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-m", "20", "-w", "%{http_code} %{http_connect}",
         "-x", proxy_url, url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return answer.stdout


@pytest.mark.parametrize("host", ["pypi.org evil.com", "a;b", "http_access allow all", ""])
def test_a_host_that_is_not_a_plain_name_is_refused_before_squid_sees_it(host, tmp_path):
    with pytest.raises(ValueError, match="Not registry host names"):
        squid_config(port=3128, hosts=[host] if host else [], run_dir=tmp_path)


def test_only_tls_to_listed_hosts_passes(package_proxy_server):
    url = package_proxy_server.url

    assert through(url, "https://pypi.org/simple/six/") == "200 200"
    assert through(url, "https://example.com/") == "000 403"
    assert through(url, "https://pypi.org:8443/") == "000 403"  # a listed host, another port
    assert through(url, "http://pypi.org/simple/six/") == "403 000"  # plain HTTP is not relayed


def test_it_chains_through_a_parent_proxy_when_told_to():
    folders = [Path(tempfile.mkdtemp(prefix="samokoder-proxy-", dir="/tmp")) for _ in range(2)]
    parent = PackageProxy(hosts=REGISTRIES, run_dir=folders[0])
    child = PackageProxy(hosts=["pypi.org"], run_dir=folders[1], upstream="")
    with parent:
        child.upstream = parent.url
        with child:
            assert through(child.url, "https://pypi.org/simple/six/") == "200 200"
            assert through(child.url, "https://registry.npmjs.org/") == "000 403"
    child_log, parent_log = child.access_log.read_text(), parent.access_log.read_text()

    assert "CONNECT pypi.org:443 - FIRSTUP_PARENT/127.0.0.1" in child_log
    assert "CONNECT pypi.org:443" in parent_log
    assert "registry.npmjs.org" not in parent_log  # refused by the child, never forwarded


def test_with_proxy_serves_the_command_and_ctrl_c_leaves_no_squid():
    env = {k: v for k, v in os.environ.items() if k != "SAMOKODER_PACKAGE_PROXY"}
    child = (
        "import os, time; "
        "print('proxy', os.environ['SAMOKODER_PACKAGE_PROXY'], flush=True); time.sleep(60)"
    )
    process = subprocess.Popen(
        [sys.executable, "scripts/with_proxy.py", sys.executable, "-c", child],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        start_new_session=True,  # its own group, as a terminal gives it
    )  # fmt: skip
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        url = lines[1].split()[1]
        assert lines[1].startswith("proxy http://127.0.0.1:")
        assert through(url, "https://pypi.org/simple/six/") == "200 200"

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.2)
    config = str(ROOT / "var" / "proxy" / "squid.conf")
    left = subprocess.run(["pgrep", "-f", config], capture_output=True, text=True).stdout
    assert left.strip() == ""
    assert through(url, "https://pypi.org/simple/six/").startswith("000 000")
