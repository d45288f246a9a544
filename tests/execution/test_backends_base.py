"""How a backend's raw outcome becomes an ExecutionResult (shared by both backends)."""

import time

from execution.backends.base import (
    DISK_POLL_MAX,
    DISK_WALK_SPACING,
    CappedOutput,
    ExecutionResult,
    ResourceUsage,
    WorkspaceWatch,
)


def outputs(stdout: bytes, stderr: bytes, limit: int = 5) -> tuple[CappedOutput, CappedOutput]:
    out, err = CappedOutput(limit), CappedOutput(limit)
    out.add(stdout)
    err.add(stderr)
    return out, err


def test_a_cancelled_command_has_no_exit_code_and_its_truncation_shows():
    result = ExecutionResult.assemble(
        outcome="cancelled", exit_code=0, outputs=outputs(b"hello world", b"oops"),
        started=time.monotonic() - 1.5,
    )  # fmt: skip

    assert (result.exit_code, result.cancelled, result.timed_out) == (None, True, False)
    assert result.truncated
    assert result.stdout == "hello\n[… output truncated: 6 more bytes not kept]"
    assert result.stderr == "oops"
    assert 1500 <= result.duration_ms < 60_000
    assert result.usage is None


def test_a_finished_command_keeps_its_exit_code_and_usage():
    usage = ResourceUsage(memory_peak_bytes=1, oom_kills=0, cpu_throttled=2, forks_refused=0)
    result = ExecutionResult.assemble(
        outcome="done", exit_code=3, outputs=outputs(b"ok", b""), started=time.monotonic(),
        usage=usage,
    )  # fmt: skip

    assert (result.exit_code, result.cancelled, result.timed_out) == (3, False, False)
    assert not result.truncated and result.usage == usage


def test_a_timed_out_command_says_so():
    result = ExecutionResult.assemble(
        outcome="timeout", exit_code=None, outputs=outputs(b"", b""), started=time.monotonic()
    )

    assert (result.exit_code, result.timed_out, result.cancelled) == (None, True, False)


def test_nul_bytes_and_invalid_utf8_become_replacement_characters():
    out = CappedOutput(100)
    out.add(b"a\x00b\xffc")

    assert out.text() == "a\ufffdb\ufffdc"


def test_a_command_stopped_at_the_disk_limit_says_so_and_has_no_exit_code():
    result = ExecutionResult.assemble(
        outcome="disk", exit_code=0, outputs=outputs(b"", b"err"), started=time.monotonic(),
        disk_mb=20,
    )  # fmt: skip

    assert (result.exit_code, result.disk_exceeded, result.timed_out) == (None, True, False)
    assert result.stderr == "err\n[… stopped: the workspace went over its disk limit of 20 MB]"


def test_output_past_the_cap_is_not_kept_but_still_seen_as_it_comes():
    seen: list[bytes] = []
    out = CappedOutput(4, seen.append)
    for chunk in (b"abc", b"def", b"ghi"):
        out.add(chunk)

    assert bytes(out.kept) == b"abcd" and out.dropped == 5
    assert seen == [b"abc", b"def", b"ghi"]  # a served app's page goes on showing its log


def test_a_long_walk_of_the_workspace_spaces_out_the_next_ones(tmp_path):
    """A preview server beside 50,000 files of node_modules: measuring them every second
    would keep a core busy for as long as it runs. A tree slow to walk on purpose still
    gets looked at every DISK_POLL_MAX seconds."""

    class SlowToWalk(WorkspaceWatch):
        walks, seconds = 0, 0.2

        def used(self) -> int:
            self.walks += 1
            time.sleep(self.seconds)
            return super().used()

    (tmp_path / "a").write_bytes(b"x" * 4096)
    watch = SlowToWalk([tmp_path], limit_mb=1)
    watch.next_look = 0  # due now

    before = time.monotonic()
    assert watch.over() is False
    assert watch.next_look - before >= 0.2 + 0.2 * DISK_WALK_SPACING
    assert watch.over() is False and watch.walks == 1  # not due yet: no second walk

    watch.seconds, watch.next_look = 1.5, 0
    before = time.monotonic()
    watch.over()
    assert watch.walks == 2
    assert watch.next_look - time.monotonic() <= DISK_POLL_MAX
    assert watch.next_look - before >= 1.5 + DISK_POLL_MAX - 0.1
