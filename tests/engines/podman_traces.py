"""What a podman test may leave behind, and the check that it left nothing.

A test's traces: containers in podman's private store, entries in the runtime's default
state root (podman never passes --root, so the runtime keeps its state there), mounts under
the private base dir (overlay ``merged`` dirs, ``shm``), cgroup dirs below the private cgroup
parent other than podman's shared ``conmon`` dir, and live processes: anything in those cgroups
or naming the base dir (conmon, ``podman container cleanup``, runtime calls).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers import leaks, procs

from engines.podman_env import Podman

MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
SETTLE_TIMEOUT = 30.0  # safety net, never an assertion about speed
CONMON_CGROUP = "conmon"


@dataclass
class Traces:
    containers: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.containers or self.states or self.mounts or self.cgroups or self.processes)

    def report(self) -> str:
        lines = ["left behind by the test:"]
        lines += [f"  podman container: {c}" for c in self.containers]
        lines += [f"  runtime state: {s}" for s in self.states]
        lines += [f"  mount: {m}" for m in self.mounts]
        lines += [f"  cgroup: {c}" for c in self.cgroups]
        lines += [f"  process: {p}" for p in self.processes]
        return "\n".join(lines)


@dataclass(frozen=True)
class Baseline:
    states: frozenset[str]
    mounts: frozenset[str]


def state_entries(root: Path) -> set[str]:
    try:
        return {f"{root}/{name}" for name in os.listdir(root) if not name.startswith(".")}
    except FileNotFoundError:
        return set()


def _ours(entry: str, base: Path) -> bool:
    """A state dir of one of our containers: its bundle is under base (other suites may use
    the default root too); one without a readable state.json counts if named like podman's ids."""
    try:
        bundle = str(json.loads(Path(entry, "state.json").read_text()).get("bundle", ""))
    except (OSError, ValueError, AttributeError):
        name = os.path.basename(entry)
        return len(name) == 64 and all(c in "0123456789abcdef" for c in name)
    return bundle.startswith(str(base) + "/")


def mounts_under(base: Path) -> set[str]:
    prefix = str(base) + "/"
    return {m.text() for m in leaks.read_mounts().values() if m.mount_point.startswith(prefix)}


def cgroups_below(parent: str) -> list[str]:
    """Cgroup dirs below /<parent>/ in every hierarchy, except podman's shared conmon dir."""
    marker = f"/{parent}/"
    return sorted(c for c in leaks.read_cgroups()
                  if marker in c and not c.endswith(f"{marker}{CONMON_CGROUP}"))


def parent_cgroups(parent: str) -> list[Path]:
    """The parent dirs and their conmon dirs, deepest first (for the session's rmdir)."""
    found = [Path(c) for c in leaks.read_cgroups()
             if c.endswith(f"/{parent}") or c.endswith(f"/{parent}/{CONMON_CGROUP}")]
    return sorted(found, key=lambda p: len(str(p)), reverse=True)


def live_processes(parent: str, base: Path) -> list[str]:
    """Processes in the parent's cgroups, or whose argv names the base dir (not zombies)."""
    found = []
    me = os.getpid()
    for pid in procs.all_pids():
        if pid == me:
            continue
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        argv = procs.cmdline(pid)
        named = any(str(base) in a for a in argv)
        if (f"/{parent}/" in cgroup or named) and procs.alive(pid):
            found.append(f"{pid} {' '.join(argv)}")
    return found


def baseline(default_root: Path, base: Path) -> Baseline:
    return Baseline(frozenset(state_entries(default_root)), frozenset(mounts_under(base)))


def collect(podman: Podman, runtime: Path, default_root: Path, before: Baseline) -> Traces:
    return Traces(
        containers=podman.container_ids(runtime),
        states=sorted(e for e in state_entries(default_root) - before.states if _ours(e, podman.base)),
        mounts=sorted(mounts_under(podman.base) - before.mounts),
        cgroups=cgroups_below(podman.cgroup_parent),
        processes=live_processes(podman.cgroup_parent, podman.base),
    )


def host_traces(podman: Podman) -> Traces:
    """What is left on the host without asking podman (after its storage was reset)."""
    return Traces(mounts=sorted(mounts_under(podman.base)), cgroups=cgroups_below(podman.cgroup_parent),
                  processes=live_processes(podman.cgroup_parent, podman.base))


def _settle(look: Callable[[], Traces]) -> Traces:
    # conmon and the cleanup process exit just after podman returns: poll until nothing is
    # left (no sleep-then-assert), or return what is still there after SETTLE_TIMEOUT.
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        found = look()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def settled(podman: Podman, runtime: Path, default_root: Path, before: Baseline) -> Traces:
    return _settle(lambda: collect(podman, runtime, default_root, before))


def settled_host(podman: Podman) -> Traces:
    return _settle(lambda: host_traces(podman))


def force_cleanup(podman: Podman, runtime: Path, default_root: Path) -> None:
    """After a failure: thaw the test's frozen cgroups, kill every process in them or naming
    the base dir (all started by the tests), and delete runtime state whose bundle is ours."""
    marker = f"/{podman.cgroup_parent}/"
    for cgroup in leaks.read_cgroups():
        if marker in cgroup and os.path.exists(f"{cgroup}/freezer.state"):
            try:
                Path(f"{cgroup}/freezer.state").write_text("THAWED")
            except OSError:
                pass
    procs.kill_and_reap({int(p.split()[0]) for p in live_processes(podman.cgroup_parent, podman.base)})
    for entry in state_entries(default_root):
        try:
            state = json.loads(Path(entry, "state.json").read_text())
        except (OSError, ValueError):
            continue
        if str(state.get("bundle", "")).startswith(str(podman.base) + "/"):
            subprocess.run([str(runtime), "delete", "--force", os.path.basename(entry)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def remove_parent_cgroups(parent: str) -> list[str]:
    problems = []
    for path in parent_cgroups(parent):
        try:
            path.rmdir()
        except OSError as exc:
            problems.append(f"rmdir {path}: {exc.strerror}")
    return problems


def unmount_under(base: Path) -> list[str]:
    """Detach whatever is still mounted below base (last resort before removing it)."""
    problems = []
    prefix = str(base) + "/"
    mounts = [m for m in leaks.read_mounts().values() if m.mount_point.startswith(prefix)]
    for mount in sorted(mounts, key=lambda m: m.mount_id, reverse=True):
        if _libc.umount2(mount.mount_point.encode(), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err != 22:  # EINVAL: already gone with its parent
                problems.append(f"umount {mount.mount_point}: {os.strerror(err)}")
    return problems
