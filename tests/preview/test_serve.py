"""`python -m preview.serve`'s two processes stop together: one exiting takes the other."""

import subprocess
import sys

from preview.serve import front_plan, listen_address, run_together


def test_when_one_process_exits_the_other_is_stopped_and_the_exit_is_a_failure(tmp_path):
    mark = tmp_path / "outlived"
    survivor = f"import time; time.sleep(30); open({str(mark)!r}, 'w')"

    status = run_together([[sys.executable, "-c", survivor], ["sh", "-c", "exit 3"]])

    assert status == 3
    assert not mark.exists()  # stopped, not waited out
    assert subprocess.run(["pgrep", "-f", survivor], check=False).returncode == 1


def test_the_front_keeps_the_gateways_limits(settings, tmp_path):
    settings.SAMOKODER_PREVIEW_BODY_BYTES = 1234
    settings.SAMOKODER_PREVIEW_ORIGIN = "https://preview.example-preview.net"

    plan = front_plan(workdir=tmp_path, listen=listen_address("::", 8001))

    assert plan.listen == "[::]:8001" and plan.proto == "https"
    assert (plan.body_bytes, plan.requests, plan.sockets) == (1234, 64, 32)
    assert plan.gateway_socket == tmp_path / "gateway.sock"


def test_nginx_starts_only_once_the_gateway_answers_on_its_socket(tmp_path):
    gateway_socket, seen = tmp_path / "gateway.sock", tmp_path / "seen"
    slow_gateway = (
        "import socket, time; time.sleep(1); s = socket.socket(socket.AF_UNIX); "
        f"s.bind({str(gateway_socket)!r}); s.listen(); time.sleep(30)"
    )
    front = (
        "import socket; s = socket.socket(socket.AF_UNIX); "
        f"ok = s.connect_ex({str(gateway_socket)!r}) == 0; "
        f"open({str(seen)!r}, 'w').write('answered' if ok else 'refused')"
    )

    run_together([[sys.executable, "-c", slow_gateway], [sys.executable, "-c", front]],
                 ready=gateway_socket)  # fmt: skip

    assert seen.read_text() == "answered"
    assert subprocess.run(["pgrep", "-f", slow_gateway], check=False).returncode == 1


def test_a_gateway_that_exits_before_answering_starts_no_front(tmp_path):
    seen = tmp_path / "seen"
    front = f"open({str(seen)!r}, 'w')"

    status = run_together([["sh", "-c", "exit 4"], [sys.executable, "-c", front]],
                          ready=tmp_path / "gateway.sock")  # fmt: skip

    assert status == 4
    assert not seen.exists()
