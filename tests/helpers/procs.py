"""Processes: subreaper, exact waits on pids (pidfd, no sleeps), /proc scanning."""

from __future__ import annotations

import ctypes
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
WAIT_TIMEOUT = 30.0  # safety net against hangs, never an assertion about speed

_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    """Make this process adopt orphaned descendants, as containerd's shim and conmon do.

    Container inits are reparented here when the runtime exits, so the tests can wait for
    them exactly and the leak checker sees them as descendants.
    """
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class ProcessExit:
    """How a process ended (when it was our child) or just that it ended."""

    def __init__(self, status: int | None) -> None:
        self.status = status

    @property
    def exit_code(self) -> int | None:
        if self.status is None or not os.WIFEXITED(self.status):
            return None
        return os.WEXITSTATUS(self.status)

    @property
    def signal(self) -> int | None:
        if self.status is None or not os.WIFSIGNALED(self.status):
            return None
        return os.WTERMSIG(self.status)

    def __repr__(self) -> str:
        return f"ProcessExit(exit_code={self.exit_code}, signal={self.signal})"


def wait_exit(pid: int, timeout: float = WAIT_TIMEOUT) -> ProcessExit:
    """Block until ``pid`` exits; reap it if it is our child and return its status.

    Uses a pidfd so the wait is exact. Raises AssertionError if it is still alive at timeout.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return ProcessExit(None)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            raise AssertionError(f"pid {pid} still alive after {timeout}s")
    finally:
        os.close(pidfd)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return ProcessExit(None)
    return ProcessExit(status)


def wait_until(ready, what: str = "condition", timeout: float = WAIT_TIMEOUT) -> None:  # noqa: ANN001
    """Poll `ready()` until it is true (a safety deadline against hangs, never an assertion
    about speed)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        return proc_state(pid) not in ("Z", "X")
    except FileNotFoundError:
        return False


def proc_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def ppid_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root_pid: int) -> set[int]:
    """All live descendants of ``root_pid`` (by parent links, including zombies)."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        try:
            children.setdefault(ppid_of(pid), []).append(pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    found: set[int] = set()
    stack = [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def has_env(pid: int, key: str, value: str) -> bool:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return f"{key}={value}".encode() in raw.split(b"\0")


def reap_zombie_children() -> list[int]:
    """Reap our children that have already exited (adopted container inits), not others."""
    reaped = []
    me = os.getpid()
    for pid in all_pids():
        try:
            if ppid_of(pid) == me and proc_state(pid) == "Z":
                os.waitpid(pid, os.WNOHANG)
                reaped.append(pid)
        except (FileNotFoundError, ProcessLookupError, ChildProcessError):
            continue
    return reaped


def kill_and_reap(pids: Iterator[int] | set[int] | list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            continue
    for pid in pids:
        try:
            wait_exit(pid, timeout=10)
        except AssertionError:
            pass


def wait_for_text(path: Path, text: str, timeout: float = WAIT_TIMEOUT) -> str:
    """Poll a file the container writes (its stdout) until ``text`` appears; return the content."""
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in {path}; content: {content!r}")
        time.sleep(0.01)
