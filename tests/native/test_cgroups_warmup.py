"""The attach warmer on the real cgroup fs: cgroups/warmup.py finds this process's own
cgroup.procs, and ociruntime-attach-warmer (csrc/warmer/attach_warmer.c) moves itself into
the cgroup it already is in, over and over, until the runtime is done; nothing of it
outlives finish()."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from ociruntime.cgroups import warmup as warmup_module
from ociruntime.cgroups.warmup import WARMER, AttachWarmup, _procs_file, own_procs_file, start_warmup


def _wait_until(predicate, seconds: float = 2.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def _run_warmer(args: list[str], stdin_path: str = "/dev/null") -> int:
    """Exit status of the warmer binary run directly with `args` and stdin."""
    stdin = os.open(stdin_path, os.O_RDONLY)
    try:
        pid = os.posix_spawn(WARMER, [WARMER, *args], {}, file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0)])
    finally:
        os.close(stdin)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_the_build_made_the_warmer() -> None:
    assert os.access(WARMER, os.X_OK), f"{WARMER} missing: setup.py build_ext builds it"


def test_own_procs_file_lists_this_process() -> None:
    procs = own_procs_file()
    assert procs is not None and procs.endswith("/cgroup.procs")
    assert str(os.getpid()) in Path(procs).read_text().split()


def test_warmer_stays_in_our_cgroup_until_finish_kills_and_reaps_it() -> None:
    before = Path("/proc/self/cgroup").read_text()
    warmup = AttachWarmup(own_procs_file()).start()
    pid = warmup.pid
    assert pid > 0
    time.sleep(0.03)  # several no-op migrations (and the first one's grace period)
    assert Path(f"/proc/{pid}/cgroup").read_text() == before  # moved nowhere
    assert Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "SR"  # alive, not exited
    status = warmup.finish()
    assert status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()  # reaped, no zombie
    assert warmup.finish() is None  # idempotent
    assert Path("/proc/self/cgroup").read_text() == before


def test_warmer_writes_zero_every_few_ms_and_ends_at_eof(tmp_path: Path) -> None:
    target = tmp_path / "procs"  # a plain file stands in for cgroup.procs: every write lands
    target.write_bytes(b"")
    warmup = AttachWarmup(str(target)).start()
    assert _wait_until(lambda: len(target.read_bytes()) >= 3)
    assert set(target.read_bytes()) == {ord("0")}
    os.close(warmup._pipe_w)  # the runtime and its children are gone: EOF on its stdin
    _, status = os.waitpid(warmup.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    warmup.pid = 0


def test_warmer_exit_codes(tmp_path: Path) -> None:
    assert _run_warmer([]) == 64
    assert _run_warmer([str(tmp_path / "missing" / "cgroup.procs")]) == 1
    target = tmp_path / "procs"
    target.write_bytes(b"")
    assert _run_warmer([str(target)]) == 0  # /dev/null reads EOF: one write, then done
    assert target.read_bytes() == b"0"
    assert _run_warmer(["/proc/self/cmdline"]) in (1, 2)  # not writable: refused at open or write


def test_finish_with_sigchld_ignored_does_not_fail() -> None:
    """A caller may start the runtime with SIGCHLD ignored: the kernel reaps the warmer."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        warmup = AttachWarmup(own_procs_file()).start()
        pid = warmup.pid
        assert pid > 0
        assert warmup.finish() is None
        assert _wait_until(lambda: not Path(f"/proc/{pid}").exists())
    finally:
        signal.signal(signal.SIGCHLD, previous)


def test_out_of_fds_means_no_warm_up_not_an_error() -> None:
    import resource

    pid = os.fork()
    if pid == 0:  # a child, so the fd exhaustion stays there
        code = 1
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
            procs = own_procs_file()
            hogs = []
            try:
                while True:
                    hogs.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            code = 0 if AttachWarmup(procs).start().pid == 0 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_no_cgroup_fs_or_no_binary_means_no_process(tmp_path: Path) -> None:
    assert AttachWarmup(None).start().pid == 0
    assert AttachWarmup(own_procs_file(), warmer=str(tmp_path / "absent")).start().pid == 0
    assert AttachWarmup(None).finish() is None


def test_start_warmup_is_one_per_process_until_finished() -> None:
    first = start_warmup()
    try:
        assert first.pid > 0 and start_warmup() is first
        pid = first.pid
        warmup_module.finish_warmup()
        assert first.pid == 0 and not Path(f"/proc/{pid}").exists()
        second = start_warmup()
        assert second.pid > 0 and second.pid != pid
    finally:
        warmup_module.finish_warmup()


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
