"""Runs one test as a child of this process and finds every process it leaves behind.

The harness makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), as containerd-shim
and conmon do for runc: orphans of the test (container inits after `create` returns,
`unshare --fork sleep` helpers, stuck runtime children) are re-parented to the harness
instead of pid 1. After the test exits, whatever is still our descendant was spawned by
that test, so it can be killed by pid without touching anybody else's processes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


@dataclass(frozen=True)
class Finished:
    exit_code: int | None  # None when killed for the timeout
    timed_out: bool
    seconds: float


def run_test(argv: list[str], cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
             timeout: float) -> Finished:
    """Runs argv in its own session with output to files, reaping orphans as they die.

    Orphans must be reaped promptly: a zombie container init would otherwise look alive
    to a runtime that probes its pid."""
    started = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        pid = os.fork()
        if pid == 0:  # child: new session, so a timeout can kill the whole group
            try:
                os.setsid()
                os.chdir(cwd)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
    deadline = started + timeout
    status = _wait_reaping_orphans(pid, deadline)
    if status is None:
        _kill_group(pid)
        os.waitpid(pid, 0)
        return Finished(None, True, time.monotonic() - started)
    return Finished(os.waitstatus_to_exitcode(status), False, time.monotonic() - started)


def _wait_reaping_orphans(pid: int, deadline: float) -> int | None:
    while True:
        try:
            reaped, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            raise RuntimeError(f"test process {pid} vanished") from None
        if reaped == pid:
            return status
        if reaped != 0:
            continue  # an orphan of the test: reaped, keep going
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap_zombies() -> None:
    while True:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if reaped == 0:
            return


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields resume after the last ')'.
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def descendants(root: int | None = None) -> dict[int, str]:
    """Every live descendant of root (default: this process), with its command line."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found: dict[int, str] = {}
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        if pid not in found:
            found[pid] = _command_of(pid)
            pending.extend(children.get(pid, []))
    return found


def kill_descendants() -> dict[int, str]:
    """SIGKILLs every descendant of this process; returns what was killed.

    Each pid is signalled through a pidfd opened while it is still known to descend from
    us, so a recycled pid can never be hit."""
    killed: dict[int, str] = {}
    for _ in range(5):  # killing a parent can re-parent its children to us: go again
        reap_zombies()
        remaining = descendants()
        if not remaining:
            break
        for pid, command in remaining.items():
            if _signal_if_descendant(pid):
                killed[pid] = command
        time.sleep(0.1)
    reap_zombies()
    return killed


def _descends_from_us(pid: int) -> bool:
    me = os.getpid()
    while pid > 1:
        parent = _parent_of(pid)
        if parent is None:
            return False
        if parent == me:
            return True
        pid = parent
    return False


def _signal_if_descendant(pid: int) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    try:
        if not _descends_from_us(pid):  # checked after the pidfd pins the process
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
