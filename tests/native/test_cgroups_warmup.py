"""AttachWarmup on the real cgroup fs: it finds this process's own cgroup.procs, moves the
process into the cgroup it already is in (so nothing changes), and leaves no thread behind
(create forks right after stop())."""

from __future__ import annotations

import _thread
import os
import time
from pathlib import Path

from ociruntime.cgroups.warmup import AttachWarmup, _procs_file, own_procs_file


def _thread_gone(warmup: AttachWarmup) -> bool:
    """The warm-up thread's kernel task is gone (it may linger a moment after its last
    Python statement)."""
    for _ in range(2000):
        if not Path(f"/proc/self/task/{warmup.thread_id}").exists():
            return True
        time.sleep(0.001)
    return False


def test_own_procs_file_lists_this_process() -> None:
    procs = own_procs_file()
    assert procs is not None and procs.endswith("/cgroup.procs")
    assert str(os.getpid()) in Path(procs).read_text().split()


def test_warmup_keeps_the_cgroup_and_leaves_no_thread() -> None:
    before = Path("/proc/self/cgroup").read_text()
    warmup = AttachWarmup(own_procs_file()).start()
    for _ in range(2000):
        if warmup.thread_id:
            break
        time.sleep(0.001)
    assert warmup.thread_id and Path(f"/proc/self/task/{warmup.thread_id}").exists()
    time.sleep(0.02)  # a few no-op migrations
    warmup.stop()
    warmup.stop()  # idempotent: create stops it before fork and again on the way out
    assert _thread_gone(warmup)
    assert Path("/proc/self/cgroup").read_text() == before


def test_start_after_stop_runs_a_new_thread() -> None:
    warmup = AttachWarmup(own_procs_file())
    for _ in range(2):  # create: start, stop before fork, start again, stop
        warmup.start()
        for _ in range(2000):
            if warmup.thread_id and Path(f"/proc/self/task/{warmup.thread_id}").exists():
                break
            time.sleep(0.001)
        first = warmup.thread_id
        assert Path(f"/proc/self/task/{first}").exists()
        warmup.stop()
        assert _thread_gone(warmup)
        warmup.thread_id = 0


def test_unwritable_target_ends_the_thread_quietly(tmp_path: Path) -> None:
    with AttachWarmup(str(tmp_path / "missing" / "cgroup.procs")) as warmup:
        pass
    assert warmup.thread_id == 0 or _thread_gone(warmup)


def test_no_cgroup_fs_means_no_thread() -> None:
    threads = _thread._count()
    with AttachWarmup(None) as warmup:
        assert _thread._count() == threads
    assert warmup.thread_id == 0


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
