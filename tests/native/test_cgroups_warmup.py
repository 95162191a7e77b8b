"""AttachWarmup on the real cgroup fs: it finds this process's own cgroup.procs, moves the
process into the cgroup it already is in (so nothing changes), and leaves no thread behind
(create forks right after stop())."""

from __future__ import annotations

import _thread
import os
import time
from pathlib import Path

from ociruntime.cgroups.warmup import AttachWarmup, _procs_file, own_procs_file


def _wait_for_thread_count(count: int) -> int:
    """_thread._count() changes when the thread's bootstrap/teardown runs, a moment after
    start_new_thread() returns or the thread's last statement."""
    for _ in range(2000):
        if _thread._count() == count:
            break
        time.sleep(0.001)
    return _thread._count()


def test_own_procs_file_lists_this_process() -> None:
    procs = own_procs_file()
    assert procs is not None and procs.endswith("/cgroup.procs")
    assert str(os.getpid()) in Path(procs).read_text().split()


def test_warmup_keeps_the_cgroup_and_leaves_no_thread() -> None:
    before = Path("/proc/self/cgroup").read_text()
    threads = _thread._count()
    warmup = AttachWarmup(own_procs_file()).start()
    assert _wait_for_thread_count(threads + 1) == threads + 1
    warmup.stop()
    warmup.stop()  # idempotent: create stops it before fork and again on the way out
    assert _wait_for_thread_count(threads) == threads
    assert Path("/proc/self/cgroup").read_text() == before


def test_unwritable_target_ends_the_thread_quietly(tmp_path: Path) -> None:
    threads = _thread._count()
    with AttachWarmup(str(tmp_path / "missing" / "cgroup.procs")):
        pass
    assert _wait_for_thread_count(threads) == threads


def test_no_cgroup_fs_means_no_thread() -> None:
    threads = _thread._count()
    with AttachWarmup(None):
        assert _thread._count() == threads


def test_procs_file_maps_paths_under_the_mount_root() -> None:
    assert _procs_file("/sys/fs/cgroup/unified", "/", "/a/b") == "/sys/fs/cgroup/unified/a/b/cgroup.procs"
    assert _procs_file("/sys/fs/cgroup/unified", "/", "/") == "/sys/fs/cgroup/unified/cgroup.procs"
    assert _procs_file("/mnt", "/ns", "/ns/x") == "/mnt/x/cgroup.procs"
    assert _procs_file("/mnt", "/ns", "/other") is None


def test_own_procs_file_from_given_tables(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
        "31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids\n")
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("5:pids:/x\n0::/y/z\n")
    assert own_procs_file(str(mountinfo), str(cgroup)) == "/sys/fs/cgroup/unified/y/z/cgroup.procs"
    cgroup.write_text("5:pids:/x\n")
    assert own_procs_file(str(mountinfo), str(cgroup)) == "/sys/fs/cgroup/pids/x/cgroup.procs"
