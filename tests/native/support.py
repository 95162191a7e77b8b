"""Helpers for native tests (import as ``native.support``): run kernel-changing code
in a forked child.

Everything that changes process state (namespaces, mounts, seccomp, exec) runs
in a child so the test process, and the host, are left as they were. Mounts are
made inside a private mount namespace whose "/" was made rprivate first, so
they vanish with the child.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BUSYBOX = "/bin/busybox"


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pickled_outcome(kind: str, value: Any) -> bytes:
    try:
        return pickle.dumps((kind, value))
    except Exception:  # an unpicklable result or exception
        return pickle.dumps(("err", AssertionError(f"child {kind}: {value!r}")))


def run_forked(fn: Callable[..., Any], *args: Any) -> Any:
    """Run fn(*args) in a forked child; return its result or raise its exception."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_fd)
            try:
                outcome = _pickled_outcome("ok", fn(*args))
            except BaseException as exc:  # noqa: BLE001 - sent to the parent
                outcome = _pickled_outcome("err", exc)
            _write_all(write_fd, outcome)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    data = _read_all(read_fd)
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AssertionError(f"child died without a result (wait status {status:#x})")
    kind, value = pickle.loads(data)
    if kind == "err":
        raise value
    return value


@dataclass
class ExecResult:
    exit_code: int | None
    term_signal: int | None
    output: str
    error: BaseException | None


def run_exec(
    fn: Callable[..., Any],
    *args: Any,
    while_running: Callable[[int], None] | None = None,
) -> ExecResult:
    """Fork; the child sends stdout/stderr to a pipe and calls fn(*args), which
    should exec. An exception raised before exec comes back in .error (through a
    close-on-exec pipe, so a successful exec sends nothing). while_running(pid)
    runs in the parent before the output is read (e.g. a seccomp agent)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()  # both close-on-exec (PEP 446)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(out_r)
            os.close(err_r)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            fn(*args)
            raise AssertionError("fn returned instead of exec")
        except BaseException as exc:  # noqa: BLE001
            try:
                _write_all(err_w, _pickled_outcome("err", exc))
            finally:
                os._exit(127)
    os.close(out_w)
    os.close(err_w)
    try:
        if while_running is not None:
            while_running(pid)
        output = _read_all(out_r).decode(errors="replace")
        err_data = _read_all(err_r)
    finally:
        _, status = os.waitpid(pid, 0)
    error = pickle.loads(err_data)[1] if err_data else None
    return ExecResult(
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        term_signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        output=output,
        error=error,
    )


def private_mount_namespace() -> None:
    """In a child: a new mount namespace that cannot propagate to the host."""
    from ociruntime.linux import mounts, namespaces

    namespaces.unshare(namespaces.CLONE_NEWNS)
    mounts.mount(None, "/", None, mounts.MS_REC | mounts.MS_PRIVATE)


@dataclass
class MountEntry:
    mount_id: int
    parent_id: int
    mount_point: str
    options: set[str]
    propagation: set[str]
    fstype: str
    source: str
    super_options: set[str]


def mountinfo(pid: str = "self") -> list[MountEntry]:
    entries = []
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, right = line.rstrip("\n").split(" - ", 1)
            fields = left.split(" ")
            fstype, source, super_options = right.split(" ", 2)
            entries.append(
                MountEntry(
                    mount_id=int(fields[0]),
                    parent_id=int(fields[1]),
                    mount_point=fields[4].replace("\\040", " "),
                    options=set(fields[5].split(",")),
                    propagation=set(fields[6:]),
                    fstype=fstype,
                    source=source,
                    super_options=set(super_options.split(",")),
                )
            )
    return entries


def mount_at(path: str, pid: str = "self") -> MountEntry | None:
    """The topmost mount at path, if any."""
    found = [m for m in mountinfo(pid) if m.mount_point == str(path)]
    return found[-1] if found else None


SIGSYS = signal.SIGSYS


def move_into_cgroup(manager: Any, pid: int) -> None:
    """Move an existing process into every directory of a CgroupManager's cgroup (the
    runtime itself never does: its processes are born there, see cgroups/join.py)."""
    for d in sorted(set(manager.paths().values())):
        with open(os.path.join(d, "cgroup.procs"), "w") as fh:
            fh.write(str(pid))
