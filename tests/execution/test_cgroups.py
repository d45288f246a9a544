"""Finding the cgroups a command can have, from /proc's own text.

This machine has v1 hierarchies only (and an empty v2 one), so v2 and containerised
layouts are read from sample mountinfo text, with a temporary folder standing in for the
delegated cgroupfs folder: what is checked is our reading and writing, not the kernel's.
"""

from pathlib import Path

import pytest

from execution.backends.base import Limits
from execution.backends.cgroups import CommandCgroup, _mounts, _own_groups, _v1, _v2


def hierarchies(root: Path, mountinfo: str) -> str:
    """``mountinfo`` with /sys/fs/cgroup under ``root``, and its group folders made."""
    text = mountinfo.replace("/sys/fs/cgroup", str(root))
    for mount in _mounts(text):
        mount.point.mkdir(parents=True, exist_ok=True)
    return text


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_OWN = "8:pids:/\n4:memory:/jobs/42\n1:cpu:/\n0::/\n"


def test_v1_groups_are_made_below_the_workers_own_group_in_each_hierarchy(tmp_path):
    mountinfo = hierarchies(tmp_path, HYBRID)
    (tmp_path / "memory/jobs/42").mkdir(parents=True)

    assert _v2(_mounts(mountinfo), _own_groups(HYBRID_OWN))[0] is None  # nothing delegated
    support, _ = _v1(_mounts(mountinfo), _own_groups(HYBRID_OWN))

    assert support.version == 1
    assert support.parents == {
        "memory": tmp_path / "memory/jobs/42",
        "cpu": tmp_path / "cpu",
        "pids": tmp_path / "pids",
    }


def test_inside_a_container_the_mount_root_is_the_containers_own_group(tmp_path):
    mountinfo = hierarchies(
        tmp_path,
        "50 40 0:30 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "51 40 0:31 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "52 40 0:32 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
    )
    own = "9:pids:/docker/abc\n5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n"

    parents = _v1(_mounts(mountinfo), _own_groups(own))[0].parents

    assert parents["memory"] == tmp_path / "memory"
    assert parents["cpu"] == tmp_path / "cpu,cpuacct"


def test_without_a_pids_hierarchy_there_are_no_v1_groups(tmp_path):
    mountinfo = hierarchies(tmp_path, HYBRID.replace("rw,pids", "rw,freezer"))
    (tmp_path / "memory/jobs/42").mkdir(parents=True)

    support, why = _v1(_mounts(mountinfo), _own_groups(HYBRID_OWN))

    assert support is None and why == "cgroup v1 pids hierarchy is not mounted"


def test_v2_is_used_only_where_the_workers_group_delegates_all_three(tmp_path):
    mountinfo = f"30 1 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    service = tmp_path / "app.service"
    service.mkdir()
    (service / "cgroup.subtree_control").write_text("cpu memory\n")

    refused, why = _v2(_mounts(mountinfo), _own_groups("0::/app.service\n"))
    (service / "cgroup.subtree_control").write_text("cpu io memory pids\n")
    support, _ = _v2(_mounts(mountinfo), _own_groups("0::/app.service\n"))

    assert refused is None and "does not delegate pids" in why
    assert support.version == 2 and set(support.parents.values()) == {service}


def test_a_v2_group_gets_the_limits_in_v2_terms_and_is_removed(tmp_path):
    mountinfo = f"30 1 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    support, _ = _v2(_mounts(mountinfo), _own_groups("0::/\n"))
    group = CommandCgroup(support, Limits(memory_mb=64, cpus=0.5, pids=32))

    with group:
        [folder] = set(group.folders.values())
        written = {f.name: f.read_text() for f in folder.iterdir()}
        for name in written:  # a real cgroupfs folder empties itself; this one must
            (folder / name).unlink()

    assert written == {
        "memory.max": str(64 * 1024 * 1024),
        "memory.swap.max": "0",
        "cpu.max": "50000 100000",
        "pids.max": "32",
    }
    assert not folder.exists()


def test_the_hourly_sweep_removes_old_empty_groups_and_nothing_else():
    import os
    import time

    from execution.backends.cgroups import cgroup_support, cgroups_sweep

    support = cgroup_support()
    if not support.version:
        pytest.skip("no writable cgroups here")  # a failure in CI, where skips are not allowed
    parent = sorted(set(support.parents.values()))[0]
    old, fresh = parent / "samokoder-sweeptestold", parent / "samokoder-sweeptestnew"
    for folder in (old, fresh):
        folder.mkdir()
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    try:
        cgroups_sweep()
        assert not old.exists()  # left behind: taken
        assert fresh.exists()  # maybe a command joining it right now: left alone
    finally:
        for folder in (old, fresh):
            if folder.exists():
                folder.rmdir()


def test_a_forked_worker_starts_with_no_group_made_ahead_of_its_parents():
    import os

    from execution.backends.cgroup_keeper import GROUPS
    from execution.backends.cgroups import cgroup_support

    support = cgroup_support()
    if not support.version:
        pytest.skip("no writable cgroups here")  # a failure in CI, where skips are not allowed
    limits = Limits(pids=33)
    with GROUPS.group(support, limits):
        pass
    assert GROUPS.settle()
    ahead = [group for group in GROUPS.ready() if group.limits == limits]
    assert len(ahead) == 1
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a prefork pool's child: its parent's group is not its to take
        os.write(write, str(len(GROUPS.ready())).encode())
        os._exit(0)
    os.waitpid(child, 0)
    try:
        assert os.read(read, 16) == b"0"
        assert [group for group in GROUPS.ready() if group.limits == limits] == ahead
    finally:
        os.close(read)
        os.close(write)
        GROUPS.close()
    assert not any(folder.exists() for folder in ahead[0].folders.values())
