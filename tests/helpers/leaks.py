"""The shared leak checker: snapshot host resources before a test, diff after, clean up.

What counts as a resource: mountinfo entries of this (host) mount namespace, cgroup
directories under every hierarchy in /sys/fs/cgroup, processes (our descendants, anything
carrying the session's env marker, anything named ``ociruntime...``), entries in the runtime's
--root, and our own file descriptors that point at session paths or are pidfds.

Scope: other people may run containers on the same machine at the same time, so by default
only resources we can attribute to this session count (the session tag is in every container
id, cgroup name and temp path; the env marker is in every runtime call). ``OCI_LEAK_STRICT=1``
(for CI, where nothing else runs) counts every new mount, cgroup and ociruntime process.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import procs

CGROUP_ROOT = Path("/sys/fs/cgroup")
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Mount:
    mount_id: int
    root: str
    mount_point: str
    fstype: str
    source: str

    def text(self) -> str:
        return f"{self.mount_point} ({self.fstype} {self.source}, root {self.root})"


@dataclass(frozen=True)
class Proc:
    pid: int
    start_time: int
    cmdline: str


@dataclass
class Scope:
    tag: str  # in every container id, cgroup path and temp dir of the session
    root: Path  # the runtime's --root
    env_marker: tuple[str, str]
    strict: bool = False


@dataclass
class Snapshot:
    mounts: dict[int, Mount] = field(default_factory=dict)
    cgroups: set[str] = field(default_factory=set)
    processes: dict[tuple[int, int], Proc] = field(default_factory=dict)
    states: set[str] = field(default_factory=set)
    fds: dict[int, str] = field(default_factory=dict)


@dataclass
class Leaks:
    mounts: list[Mount] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    processes: list[Proc] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    fds: dict[int, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.mounts or self.cgroups or self.processes or self.states or self.fds)

    def report(self) -> str:
        lines = ["resources leaked by the test (now cleaned up):"]
        lines += [f"  mount: {m.text()}" for m in self.mounts]
        lines += [f"  cgroup: {c}" for c in self.cgroups]
        lines += [f"  process: {p.pid} {p.cmdline}" for p in self.processes]
        lines += [f"  state dir: {s}" for s in self.states]
        lines += [f"  fd {fd} -> {target}" for fd, target in self.fds.items()]
        return "\n".join(lines)


# --- reading the host ------------------------------------------------------------------

_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field_text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field_text)


def read_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[int, Mount]:
    mounts = {}
    for line in Path(mountinfo).read_text().splitlines():
        left, _, right = line.partition(" - ")
        parts = left.split()
        fstype, source = (right.split() + ["", ""])[:2]
        mount = Mount(int(parts[0]), _unescape(parts[3]), _unescape(parts[4]), fstype, _unescape(source))
        mounts[mount.mount_id] = mount
    return mounts


def read_cgroups() -> set[str]:
    dirs: set[str] = set()
    for hierarchy in os.scandir(CGROUP_ROOT):
        if hierarchy.is_symlink() or not hierarchy.is_dir():
            continue
        for dirpath, _dirnames, _files in os.walk(hierarchy.path):
            if dirpath != hierarchy.path:
                dirs.add(dirpath)
    return dirs


def _start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _named_ociruntime(pid: int) -> bool:
    argv = procs.cmdline(pid)
    first = os.path.basename(argv[0]) if argv else ""
    return first.startswith("ociruntime") or _comm(pid).startswith("ociruntime")


def read_processes(scope: Scope) -> dict[tuple[int, int], Proc]:
    """Our descendants, plus processes carrying the env marker or named ociruntime*."""
    me = os.getpid()
    mine = procs.descendants(me)
    found: dict[tuple[int, int], Proc] = {}
    for pid in procs.all_pids():
        if pid == me:
            continue
        try:
            counted = pid in mine or procs.has_env(pid, *scope.env_marker)
            if not counted and _named_ociruntime(pid):
                counted = scope.strict
            if counted:
                start = _start_time(pid)
                found[(pid, start)] = Proc(pid, start, " ".join(procs.cmdline(pid)) or f"[{_comm(pid)}]")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


def read_states(root: Path) -> set[str]:
    try:
        return {name for name in os.listdir(root) if not name.startswith(".")}
    except FileNotFoundError:
        return set()


def read_fds(scope: Scope) -> dict[int, str]:
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue
        if scope.tag in target or "pidfd" in target:
            fds[int(name)] = target
    return fds


def snapshot(scope: Scope) -> Snapshot:
    procs.reap_zombie_children()
    return Snapshot(read_mounts(), read_cgroups(), read_processes(scope), read_states(scope.root),
                    read_fds(scope))


def diff(before: Snapshot, after: Snapshot, scope: Scope) -> Leaks:
    def in_scope(text: str) -> bool:
        return scope.strict or scope.tag in text

    mounts = [m for mid, m in sorted(after.mounts.items()) if mid not in before.mounts
              and in_scope(f"{m.mount_point} {m.root} {m.source}")]
    cgroups = sorted(c for c in after.cgroups - before.cgroups if in_scope(c))
    processes = [p for key, p in after.processes.items() if key not in before.processes]
    states = sorted(after.states - before.states)
    fds = {fd: t for fd, t in after.fds.items() if before.fds.get(fd) != t}
    return Leaks(mounts, cgroups, processes, states, fds)


def check(before: Snapshot, scope: Scope) -> Leaks:
    return diff(before, snapshot(scope), scope)


# --- cleaning up -----------------------------------------------------------------------

def cleanup(leaks: Leaks, scope: Scope, runtime_path: str) -> list[str]:
    """Remove what leaked so the next test starts clean. Returns what could not be removed."""
    problems: list[str] = []
    for state in leaks.states:
        subprocess.run([runtime_path, "--root", str(scope.root), "delete", "--force", state],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    procs.kill_and_reap({p.pid for p in leaks.processes})
    for mount in sorted(leaks.mounts, key=lambda m: m.mount_id, reverse=True):
        if _libc.umount2(mount.mount_point.encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err != 22:  # EINVAL: already gone with a parent
                problems.append(f"umount {mount.mount_point}: {os.strerror(err)}")
    for cgroup in sorted(leaks.cgroups, key=len, reverse=True):
        problems += _remove_cgroup(Path(cgroup))
    for state in leaks.states:
        shutil.rmtree(scope.root / state, ignore_errors=True)
    for fd in leaks.fds:
        try:
            os.close(fd)
        except OSError:
            pass
    return problems


def _remove_cgroup(path: Path) -> list[str]:
    if not path.exists():
        return []
    try:
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        pids = []
    procs.kill_and_reap(pids)
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        return [f"rmdir {path}: {exc.strerror}"]
    return []


# --- targeted checks for one container -------------------------------------------------

def container_traces(scope: Scope, cid: str) -> list[str]:
    """Anything on the host that still names container ``cid``: state dir, cgroup, mount."""
    traces = []
    if (scope.root / cid).exists():
        traces.append(f"state dir {scope.root / cid}")
    traces += [f"cgroup {c}" for c in read_cgroups() if cid in c]
    traces += [f"mount {m.text()}" for m in read_mounts().values()
               if cid in f"{m.mount_point} {m.root} {m.source}"]
    return traces
