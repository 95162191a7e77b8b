"""What an engine test may leave behind, and the check that it left nothing.

A test's traces: entries in the runtime's private --root, mounts under the daemon's base dir,
cgroup dirs below the test's cgroup parent (``/<parent>/...``: ctr's namespace, CRI's
cgroup_parent), processes in those cgroups, shims of our daemon and runtime processes that
name our --root. The parent dir itself may stay (runc leaves it too); the session removes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers import leaks, procs

from engines.containerd import Containerd, wait_gone


@dataclass
class Traces:
    states: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    shims: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.states or self.mounts or self.cgroups or self.processes or self.shims)

    def report(self) -> str:
        lines = ["left behind by the test:"]
        lines += [f"  runtime state: {s}" for s in self.states]
        lines += [f"  mount: {m}" for m in self.mounts]
        lines += [f"  cgroup: {c}" for c in self.cgroups]
        lines += [f"  process: {p}" for p in self.processes]
        lines += [f"  shim: {p} {' '.join(procs.cmdline(p))}" for p in self.shims]
        return "\n".join(lines)


def runtime_states(runtime_root: Path) -> list[str]:
    """Container state dirs in every namespace dir of the runtime's --root."""
    found = []
    if not runtime_root.is_dir():
        return found
    for ns in sorted(runtime_root.iterdir()):
        if ns.is_dir():
            found += [f"{ns}/{e}" for e in sorted(os.listdir(ns)) if not e.startswith(".")]
    return found


def mounts_under(base: Path) -> list[str]:
    prefix = str(base) + "/"
    return sorted(m.text() for m in leaks.read_mounts().values() if m.mount_point.startswith(prefix))


def cgroups_below(parent: str) -> list[str]:
    marker = f"/{parent}/"
    return sorted(c for c in leaks.read_cgroups() if marker in c + "/" and not c.endswith(f"/{parent}"))


def parent_cgroups(parent: str) -> list[Path]:
    return sorted(Path(c) for c in leaks.read_cgroups() if c.endswith(f"/{parent}"))


def processes_in(parent: str, runtime_root: Path) -> list[str]:
    """Processes inside the test's cgroups, or runtime calls naming our --root."""
    found = []
    for pid in procs.all_pids():
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        argv = procs.cmdline(pid)
        if (f"/{parent}/" in cgroup or any(str(runtime_root) in a for a in argv)) and procs.alive(pid):
            found.append(f"{pid} {' '.join(argv)}")
    return found


def collect(daemon: Containerd, parent: str, baseline_shims: set[int]) -> Traces:
    shims = wait_gone(lambda: [p for p in daemon.shim_pids() if p not in baseline_shims])
    return Traces(
        states=runtime_states(daemon.runtime_root),
        mounts=mounts_under(daemon.base),
        cgroups=cgroups_below(parent),
        processes=processes_in(parent, daemon.runtime_root),
        shims=shims,
    )


def remove_parent_cgroups(parent: str) -> list[str]:
    """rmdir the (empty) parent dirs the runtime made for our containers in every hierarchy."""
    problems = []
    for path in sorted(parent_cgroups(parent), key=lambda p: len(str(p)), reverse=True):
        try:
            path.rmdir()
        except OSError as exc:
            problems.append(f"rmdir {path}: {exc.strerror}")
    return problems
