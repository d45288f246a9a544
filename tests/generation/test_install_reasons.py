"""When fixes run out on an install, the stop reason names what the proxy refused or the
package the registry lacks, read from the install's output as pip and npm print it."""

import pytest
from django.utils import translation

from generation import reasons
from generation.pipeline.installing import missing_package, out_of_fixes, refused_hosts
from generation.schemas import Debugging

REFUSED = (
    "ERROR: Could not install packages due to an OSError: Tunnel connection failed: 403\n"
    "\n[samokoder] The package proxy refused: github.com:443, example.org:443. Installs may "
    "reach only pypi.org, files.pythonhosted.org, registry.npmjs.org over HTTPS "
    "(SAMOKODER_PACKAGE_HOSTS).\n"
)
PIP_MISSING = (
    "ERROR: Could not find a version that satisfies the requirement flaskk==3.0 (from "
    "versions: none)\nERROR: No matching distribution found for flaskk==3.0\n"
)
NPM_404 = (
    "npm error code E404\n"
    "npm error 404 Not Found - GET https://registry.npmjs.org/@acme%2fno-such-kit - Not found\n"
    "npm error 404  '@acme/no-such-kit@^1.0.0' is not in this registry.\n"
)
NPM_NO_VERSION = "npm error notarget No matching version found for express@^99.0.0.\n"


@pytest.mark.parametrize(
    ("output", "package"),
    [
        (PIP_MISSING, "flaskk"),
        ("ERROR: No matching distribution found for requests[socks]>=9", "requests"),
        (NPM_404, "@acme/no-such-kit"),
        ("npm ERR! 404 Not Found - GET https://registry.npmjs.org/expresss - x", "expresss"),
        (NPM_NO_VERSION, "express@^99.0.0"),
        ("Successfully installed flask-3.0.3", ""),
    ],
)
def test_the_missing_package_is_read_from_pip_and_npm_output(output, package):
    assert missing_package(output) == package


def test_the_refused_hosts_are_read_from_the_line_the_install_output_got():
    assert refused_hosts(REFUSED) == "github.com:443, example.org:443"
    assert refused_hosts(PIP_MISSING) == ""


def install_error(output: str) -> Debugging:
    return Debugging(command="npm install", error=output, attempts=3, phase="install")


def test_an_install_out_of_fixes_names_the_refused_host_before_anything_else():
    stop = out_of_fixes(install_error(REFUSED + PIP_MISSING))
    assert stop.code == reasons.PACKAGE_REFUSED
    assert stop.params == {"hosts": "github.com:443, example.org:443", "attempts": 3}
    with translation.override("en"):
        text = reasons.reason_text(stop.code, stop.params)
    assert "github.com:443" in text and "3 attempts" in text


def test_an_install_out_of_fixes_names_the_missing_package_in_the_readers_language():
    stop = out_of_fixes(install_error(NPM_404))
    assert (stop.code, stop.params["package"]) == (reasons.PACKAGE_MISSING, "@acme/no-such-kit")
    with translation.override("ru"):
        russian = reasons.reason_text(stop.code, stop.params)
    with translation.override("en"):
        english = reasons.reason_text(stop.code, stop.params)
    assert "«@acme/no-such-kit»" in russian and "“@acme/no-such-kit”" in english


def test_an_install_failing_otherwise_or_a_command_out_of_fixes_names_the_command():
    assert out_of_fixes(install_error("killed")).code == reasons.FIX_ATTEMPTS
    command = Debugging(command="npm test", error=NPM_404, attempts=3)  # a test's output
    stop = out_of_fixes(command)
    assert stop.code == reasons.FIX_ATTEMPTS and stop.params["command"] == "npm test"
