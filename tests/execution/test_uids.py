"""Leasing a uid per running command (bubblewrap as root)."""

import fcntl
import subprocess
import sys

import pytest

from execution.backends.uids import leases_folder, uid_lease

FIRST = 20_000  # far from the range the rest of the suite's commands lease


def test_commands_running_at_once_never_share_a_uid():
    with (
        uid_lease(first=FIRST, count=3) as one,
        uid_lease(first=FIRST, count=3) as two,
        uid_lease(first=FIRST, count=3) as three,
    ):
        assert {one, two, three} == {FIRST, FIRST + 1, FIRST + 2}


@pytest.mark.timeout(30, method="signal")
def test_a_lease_ends_with_a_killed_holder():
    uid = FIRST + 10
    hold = (
        "import time\n"
        "from execution.backends.uids import uid_lease\n"
        f"with uid_lease(first={uid}, count=1):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with (leases_folder() / str(uid)).open("a") as handle, pytest.raises(BlockingIOError):
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

    holder.kill()
    holder.wait()

    with uid_lease(first=uid, count=1) as leased:  # would wait forever if still held
        assert leased == uid


def test_the_preferred_uid_is_leased_when_free_and_passed_over_when_held():
    preferred = FIRST + 21

    with (
        uid_lease(first=FIRST + 20, count=4, prefer=preferred) as first_lease,
        uid_lease(first=FIRST + 20, count=4, prefer=preferred) as second_lease,
    ):
        pass

    assert first_lease == preferred
    assert second_lease != preferred and FIRST + 20 <= second_lease < FIRST + 24


def test_a_preferred_uid_outside_the_range_is_never_leased():
    with uid_lease(first=FIRST + 30, count=2, prefer=0) as leased:  # root owns the folder
        assert leased in (FIRST + 30, FIRST + 31)
