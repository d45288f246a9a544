"""Profiles the benchmarks print beside a goal they miss: where the time goes.

Printed, never asserted. The sources, each a maintained tool where one fits:
- ``QueryLog``: Django's own hook for instrumenting queries (``connection.execute_wrapper``),
  every query's kind, table and duration;
- ``cprofile_lines``: cProfile's function table of the calling thread, our code first;
- ``pyspy_samples``: py-spy's samples of another process (a web process under load),
  in its "raw" (collapsed stacks) form;
- ``exec_links``: strace's timestamps of the execs, forks and exits of an exec chain.
"""

import cProfile
import pstats
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUR_CODE = re.compile(r"^(accounts|core|execution|files|generation|llm|preview|projects|"
                      r"samokoder_site)/")  # fmt: skip
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)


class QueryLog:
    """Every query run on a connection while installed: ``(kind and table, seconds)``.

    with connection.execute_wrapper(log): ...
    """

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []

    def __call__(self, execute: Callable, sql: str, params, many: bool, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((query_kind(sql), time.perf_counter() - started))

    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.queries)

    def grouped(self, per: float, count: int) -> list[str]:
        """The ``count`` busiest kinds, as "N.N x KIND TABLE (M.M ms)" per ``per``."""
        number: Counter[str] = Counter()
        spent: dict[str, float] = defaultdict(float)
        for kind, seconds in self.queries:
            number[kind] += 1
            spent[kind] += seconds
        busiest = sorted(number, key=lambda k: spent[k], reverse=True)[:count]
        return [f"{number[k] / per:.1f} x {k} ({spent[k] * 1000 / per:.1f} ms)" for k in busiest]


def query_kind(sql: str) -> str:
    """``"SELECT generation_generationrun FOR UPDATE"``, ``"INSERT llm_llmrequest"``, …"""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb not in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        return verb  # SAVEPOINT, RELEASE, BEGIN, …
    table = _TABLE.search(sql)
    locked = " FOR UPDATE" if verb == "SELECT" and "FOR UPDATE" in sql[-40:] else ""
    return f"{verb} {table.group(1) if table else '?'}{locked}"


def profiled(call: Callable[[], object]) -> pstats.Stats:
    """cProfile's table of ``call`` (this thread only)."""
    profile = cProfile.Profile()
    profile.runcall(call)
    return pstats.Stats(profile)


def table_of(stats: pstats.Stats) -> dict:
    """cProfile's rows: (file, line, function) -> (calls, calls, own, cumulative, callers)."""
    return stats.stats  # type: ignore[attr-defined]  # where pstats keeps them


def cprofile_lines(stats: pstats.Stats, *, per: float, count: int, skip_above: float) -> list[str]:
    """Our functions by cumulative time, in ms per ``per``, leaving out the ones that take
    more than ``skip_above`` of the whole (the loop around everything)."""
    table = table_of(stats)
    total = max((row[3] for row in table.values()), default=0.0) or 1.0
    ours = []
    for (file, line, name), (_, calls, _own, cumulative, _) in table.items():
        relative = _relative(file)
        if OUR_CODE.match(relative) and cumulative <= skip_above * total:
            ours.append((cumulative, calls, f"{relative}:{line} {name}"))
    ours.sort(reverse=True)
    return [f"{ms * 1000 / per:7.1f} ms  {calls / per:5.1f} calls  {where}"
            for ms, calls, where in ours[:count]]  # fmt: skip


def cprofile_own(stats: pstats.Stats, *, per: float, count: int) -> list[str]:
    """Any functions (libraries, C calls) by their own time, as "name N.N ms" per ``per``."""
    table = table_of(stats)
    rows = sorted(((own, name, file) for (file, _, name), (_, _, own, _, _) in table.items()),
                  reverse=True)[:count]  # fmt: skip
    return [f"{_short(name, file)} {own * 1000 / per:.1f} ms" for own, name, file in rows]


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(ROOT))
    except ValueError:
        return file


def _short(name: str, file: str) -> str:
    if file == "~":  # a C function: name is "<built-in method …>" or "<method 'x' of 'y'>"
        return name.strip("<>").replace("built-in method ", "").replace("method ", "")
    return f"{Path(file).stem}.{name}"


# ---- py-spy ------------------------------------------------------------------------------

FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def pyspy_samples(paths: Iterable[Path]) -> Counter[tuple[tuple[str, str], ...]]:
    """Stacks (root first, each frame ``(function, file)``) and their sample counts, from
    py-spy's raw output files."""
    stacks: Counter[tuple[tuple[str, str], ...]] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = []
            for frame in stack.split(";"):
                match = FRAME.match(frame)
                if match:
                    frames.append((match["name"], match["file"]))
            stacks[tuple(frames)] += int(count)
    return stacks


def inclusive_shares(
    stacks: Counter[tuple[tuple[str, str], ...]], test: Callable[[str, str], bool]
) -> float:
    """The share of samples with at least one frame passing ``test(function, file)``."""
    total = sum(stacks.values()) or 1
    return sum(n for stack, n in stacks.items() if any(test(*f) for f in stack)) / total


# ---- strace: the links of an exec chain --------------------------------------------------

TRACED = "execve,exit_group,clone,clone3"
_EVENT = re.compile(r"^(\d+) +(\d+\.\d+) (execve|exit_group|clone3?)\((.*)$")


def exec_links(argv: list[str], output: Path) -> list[tuple[str, float]]:
    """The links of ``argv``'s exec chain and the seconds each took, from one run under
    ``strace --seccomp-bpf`` (only the traced calls stop the process): each program from
    its exec to the next exec; a program that forks first, from its exec to the fork and
    from the fork to the exec in the child; the last from its exec to its exit, then
    the chain's unwinding to the first process's exit."""
    import subprocess

    subprocess.run(["strace", "-f", "-ttt", "-qq", "--seccomp-bpf", "-e", f"trace={TRACED}",
                    "-o", str(output), "--", *argv], check=True)  # fmt: skip
    events = []
    for line in output.read_text().splitlines():
        match = _EVENT.match(line)
        if not match or (match[3] == "execve" and not match[4].rstrip().endswith("= 0")):
            continue  # another line, or an exec that failed (a PATH search)
        name = Path(match[4].split('"')[1]).name if match[3] == "execve" else match[3]
        events.append((int(match[1]), float(match[2]), match[3], name))
    return _links(events)


def _links(events: list[tuple[int, float, str, str]]) -> list[tuple[str, float]]:
    links: list[tuple[str, float]] = []
    program, since, first_pid = "", 0.0, events[0][0] if events else 0
    for pid, at, call, name in events:
        if call == "execve":
            if program:
                links.append((program, at - since))
            program, since = name, at
        elif call.startswith("clone") and program:
            links.append((program, at - since))
            program, since = f"{program}, forked", at
        elif call == "exit_group" and program:
            links.append((program, at - since))
            program, since = "", at
        elif call == "exit_group" and pid == first_pid:
            links.append(("exit", at - since))
    return links
