"""What callers and operators do behind the runtime's back: kill the init before `start`,
delete or truncate state.json, point --root at a full filesystem. Every verb must answer with
one clean line (never a traceback) and `delete` must leave nothing behind."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import leaks, procs
from helpers.asserts import assert_one_line_error
from helpers.containers import SLEEPER, create

MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def test_init_killed_before_start(runtime, bundle, container_id, leak_scope):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    os.kill(c.pid, signal.SIGKILL)  # our own container's init
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    assert runtime.status(container_id) == "stopped"
    assert_one_line_error(runtime.start(container_id), "cannot start a container that has stopped")
    runtime.delete(container_id).ok()
    assert leaks.container_traces(leak_scope, container_id) == []


@pytest.mark.ours_only
@pytest.mark.parametrize("tamper", ["deleted", "truncated", "empty", "not_json", "pid_string"])
def test_tampered_state_json(tamper, runtime, bundle, container_id, leak_scope):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    state_file = runtime.root / container_id / "state.json"
    raw = state_file.read_bytes()
    if tamper == "deleted":
        state_file.unlink()
    elif tamper == "truncated":
        state_file.write_bytes(raw[: len(raw) // 2])
    elif tamper == "empty":
        state_file.write_bytes(b"")
    elif tamper == "not_json":
        state_file.write_bytes(b"\x00\xff garbage")
    else:
        state = json.loads(raw)
        state["pid"] = str(state["pid"])
        state_file.write_text(json.dumps(state))

    expected = "state.json is missing" if tamper == "deleted" else "state.json is corrupt"
    assert_one_line_error(runtime.state_result(container_id), expected)
    for verb in (("start", container_id), ("kill", container_id, "KILL")):
        assert_one_line_error(runtime.call(*verb), expected)
    listed = runtime.call("list", "--format", "json").ok()
    assert "Traceback" not in listed.stderr_text()
    # delete --force still finds the cgroup (from the saved config.json) and the init in it.
    runtime.delete(container_id, force=True).ok()
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    assert leaks.container_traces(leak_scope, container_id) == []
    assert_one_line_error(runtime.state_result(container_id), "container does not exist")


@pytest.fixture
def full_tmpfs(test_dir: Path):
    """A tiny tmpfs, filled up, in a private directory; unmounted afterwards."""
    def make(options: str) -> Path:
        mnt = test_dir / "full"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, f"{test_dir.name}-full", str(mnt)], check=True)
        mounted.append(mnt)
        return mnt

    mounted: list[Path] = []
    yield make
    for mnt in mounted:
        assert _libc.umount2(str(mnt).encode(), MNT_DETACH) == 0, os.strerror(ctypes.get_errno())


def _fill(mnt: Path, files: int) -> None:
    """Write up to ``files`` files, each until the filesystem has no block (or inode) left."""
    for index in range(files):
        try:
            fd = os.open(mnt / f"fill{index}", os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as err:
            assert err.errno == 28, err  # ENOSPC: no inode left
            return
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == 28, err
        finally:
            os.close(fd)


# runc 1.1.5 reports the "blocks" case as "unable to store init state: %!w(<nil>)".
@pytest.mark.parametrize("exhausted", [pytest.param("blocks", marks=pytest.mark.ours_only), "inodes"])
def test_root_on_full_tmpfs(exhausted, full_tmpfs, runtime, bundle, container_id, leak_scope):
    # blocks: the state dir can be made, its files cannot; inodes: not even the state dir.
    options = "size=64k,nr_inodes=64" if exhausted == "blocks" else "size=1m,nr_inodes=3"
    mnt = full_tmpfs(options)
    (mnt / "root").mkdir()
    _fill(mnt, 1 if exhausted == "blocks" else 100)
    root = mnt / "root"
    bundle.save()
    result = runtime.call("--root", root, "create", "--bundle", bundle.path, container_id, root=False)
    line = assert_one_line_error(result)
    assert "no space left on device" in line.lower(), line
    assert os.listdir(root) == []
    assert leaks.container_traces(leak_scope, container_id) == []
    # Nothing to find afterwards, and nothing to crash on.
    assert_one_line_error(runtime.call("--root", root, "state", container_id, root=False),
                          "container does not exist")
    runtime.call("--root", root, "delete", "--force", container_id, root=False).ok()


@pytest.mark.ours_only  # runc 1.1.5 leaves the stray task and fails to remove the cgroup
def test_force_delete_kills_a_stray_task_in_the_cgroup(runtime, bundle, container_id, leak_scope):
    """A host process that joined the container's cgroups (an exec leftover, a debugging
    session) would keep them busy: `delete --force` must kill it too, then remove them."""
    bundle.sh(SLEEPER)
    create(runtime, bundle, container_id)
    cgroup_dirs = [Path(d) for d in leaks.read_cgroups() if d.endswith("/" + container_id)]
    assert cgroup_dirs
    stray = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    try:
        for d in cgroup_dirs:
            (d / "cgroup.procs").write_text(str(stray.pid))
        runtime.delete(container_id, force=True).ok()
        assert stray.wait(timeout=30) == -signal.SIGKILL
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
    assert leaks.container_traces(leak_scope, container_id) == []


def test_init_killed_during_start(runtime, bundle, container_id, leak_scope):
    """`start` is waiting for the exec (a startContainer hook is still running) when the init
    is killed: start must return (no hang, no traceback), the container reads as stopped and
    `delete` removes it."""
    bundle.sh("echo started")
    bundle.add_hook("startContainer", "/bin/sleep", ["sleep", "1000"])
    c = create(runtime, bundle, container_id)
    bundle.save()
    err_path = runtime.io_dir / "start.err"
    with open(err_path, "wb") as err:
        start = subprocess.Popen([runtime.path, "--root", str(runtime.root), "start", container_id],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                 env=runtime.env())
    try:
        procs.wait_until(lambda: any(procs.cmdline(p)[:1] == ["sleep"] for p in procs.descendants(c.pid)))
        os.kill(c.pid, signal.SIGKILL)
        code = start.wait(timeout=30)
    finally:
        if start.poll() is None:
            start.kill()
            start.wait()
    stderr = err_path.read_text()
    assert "Traceback" not in stderr and stderr.count("\n") <= 1, stderr
    assert code in (0, 1), (code, stderr)
    assert procs.wait_exit(c.pid).signal == signal.SIGKILL
    assert "started" not in c.output()  # the process never ran
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()
    assert leaks.container_traces(leak_scope, container_id) == []
