"""Prepares this machine's cgroups the way a usual hybrid distro has them, and undoes it.

The suite reads cgroup v1 files under /sys/fs/cgroup/<controller>/ only. This VM mounts
most v1 controllers but (1) has no net_cls/net_prio hierarchy and (2) leaves hugetlb on
the cgroup2 mount at /sys/fs/cgroup/unified. For the run the harness therefore
- mounts a v1 `net_cls,net_prio` hierarchy at /sys/fs/cgroup/net_cls,net_prio with the
  usual net_cls and net_prio symlinks (linux_cgroups_network and _relative_network);
- moves hugetlb to a v1 hierarchy at /sys/fs/cgroup/hugetlb (the hugetlb tests). The
  kernel allows that only while no cgroup2 group has hugetlb enabled in subtree_control,
  so where groups left by others have it enabled (this VM's snapshot carries a few empty
  ones), it is disabled there first, deepest first, and enabled again on restore. That
  is done only when none of the groups it reaches holds a process or a hugetlb limit:
  disabling the controller would drop those limits.

Every step is journalled in /run/ociruntime-conformance/machine.json before the next one,
and `restore()` undoes the journal in reverse: removes the (empty) cgroups left in those
hierarchies, unmounts them (hugetlb then falls back to cgroup2), removes the symlinks
and mountpoints. A run that was killed is undone by the next run, or by hand with
`python -m conformance.machine --restore`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from conformance.leftovers import read_mounts

CGROUP_ROOT = Path("/sys/fs/cgroup")
STATE_DIR = Path("/run/ociruntime-conformance")
JOURNAL = STATE_DIR / "machine.json"
UNLIMITED_FLOOR = 1 << 62  # hugetlb limits at or above this are "no limit" rounded to pages


@dataclass(frozen=True)
class Step:
    kind: str  # "mkdir" | "mount" | "symlink" | "subtree_off" (controller disabled in path)
    path: str
    controller: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "controller": self.controller}


def _v1_controllers() -> set[str]:
    mounted: set[str] = set()
    for mount in read_mounts():
        if mount.fstype == "cgroup":
            mounted.update(mount.super_options.split(","))
    return mounted


def _cgroup2_root() -> Path | None:
    for mount in read_mounts():
        if mount.fstype == "cgroup2":
            return Path(mount.mountpoint)
    return None


def _enabled_controllers() -> set[str]:
    names = set()
    for line in Path("/proc/cgroups").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[3] == "1":
            names.add(fields[0])
    return names


def _read_words(path: Path) -> set[str]:
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def hold_lock() -> TextIO | None:
    """The machine lock shared by conformance runs and the benchmark; None when taken.

    Keep the returned file open for as long as the machine is prepared."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(STATE_DIR / "lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


class Preparation:
    def __init__(self, settle_seconds: float = 30.0) -> None:
        self.steps: list[Step] = []
        self.settle_seconds = settle_seconds

    # -- journal ---------------------------------------------------------------------
    def _record(self, step: Step) -> None:
        self.steps.append(step)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = JOURNAL.with_suffix(".tmp")
        tmp.write_text(json.dumps([s.as_dict() for s in self.steps], indent=1))
        tmp.replace(JOURNAL)

    @classmethod
    def from_journal(cls, settle_seconds: float = 30.0) -> Preparation:
        prep = cls(settle_seconds)
        if JOURNAL.exists():
            prep.steps = [Step(**d) for d in json.loads(JOURNAL.read_text())]
        return prep

    # -- prepare ---------------------------------------------------------------------
    def prepare(self) -> list[str]:
        """Returns one line per change made (or not made, and why)."""
        notes: list[str] = []
        v1 = _v1_controllers()
        if not v1:
            return ["no cgroup v1 hierarchy mounted: not a hybrid machine, nothing prepared"]
        enabled = _enabled_controllers()
        if {"net_cls", "net_prio"} & v1:
            notes.append("net_cls/net_prio already mounted as v1: left as is")
        elif {"net_cls", "net_prio"} <= enabled:
            notes.append(self._mount_v1("net_cls,net_prio", aliases=("net_cls", "net_prio")))
        else:
            notes.append("net_cls/net_prio not available in this kernel")
        notes.append(self.move_hugetlb_to_v1())
        return notes

    def move_hugetlb_to_v1(self) -> str:
        """Moves hugetlb from cgroup2 to a v1 hierarchy; says what was done or why not.

        Also what crun 1.8 needs on a hybrid machine (no controller left on cgroup2)."""
        if "hugetlb" in _v1_controllers():
            return "hugetlb already mounted as v1: left as is"
        if "hugetlb" not in _enabled_controllers():
            return "hugetlb not available in this kernel"
        root2 = _cgroup2_root()
        blocker = self._free_hugetlb_from_cgroup2(root2) if root2 is not None else None
        return blocker or self._mount_v1("hugetlb")

    def _free_hugetlb_from_cgroup2(self, root2: Path) -> str | None:
        """Disables hugetlb in every cgroup2 subtree_control holding it (journalled).

        Returns why it cannot, or None once no group has it enabled."""
        holders = _groups_enabling(root2, "hugetlb")
        if not holders:
            return None
        in_use = [g for g in _groups_reached(root2, "hugetlb") if _holds_processes(g) or _has_hugetlb_limit(g)]
        if in_use:
            return (f"hugetlb is enabled in {holders[0]}/cgroup.subtree_control and in use in {in_use[0]} "
                    f"(processes or limits): cannot move it to v1")
        for group in sorted(holders, key=lambda g: len(g.parts), reverse=True):
            try:
                (group / "cgroup.subtree_control").write_text("-hugetlb")
            except OSError as exc:
                return f"disabling hugetlb in {group}/cgroup.subtree_control failed: {exc.strerror}"
            self._record(Step("subtree_off", str(group), "hugetlb"))
        return None

    def _mount_v1(self, controllers: str, aliases: tuple[str, ...] = ()) -> str:
        mountpoint = CGROUP_ROOT / controllers
        if not mountpoint.exists():
            mountpoint.mkdir()
            self._record(Step("mkdir", str(mountpoint)))
        self._record(Step("mount", str(mountpoint), controllers))
        proc = _mount_cgroup_v1(controllers, mountpoint)
        if proc.returncode != 0:
            self.steps.pop()
            self._record_journal_only()
            return f"mounting v1 {controllers} failed: {proc.stderr.strip()}"
        for alias in aliases:
            link = CGROUP_ROOT / alias
            if not link.exists() and not link.is_symlink():
                link.symlink_to(controllers)
                self._record(Step("symlink", str(link)))
        return f"mounted v1 {controllers} at {mountpoint}" + (f" (+ symlinks {', '.join(aliases)})" if aliases else "")

    def _record_journal_only(self) -> None:
        JOURNAL.write_text(json.dumps([s.as_dict() for s in self.steps], indent=1))

    # -- restore ---------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Undoes every journalled step, newest first; returns what could not be undone."""
        problems: list[str] = []
        for step in reversed(self.steps):
            problem = self._undo(step)
            if problem:
                problems.append(problem)
        if not problems and JOURNAL.exists():
            JOURNAL.unlink()
        self.steps = []
        return problems

    def _undo(self, step: Step) -> str | None:
        path = Path(step.path)
        if step.kind == "symlink":
            if path.is_symlink():
                path.unlink()
            return None
        if step.kind == "mkdir":
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                return f"rmdir {path}: {exc.strerror}"
            return None
        if step.kind == "mount":
            return self._unmount_hierarchy(path, step.controller)
        if step.kind == "subtree_off":
            try:
                (path / "cgroup.subtree_control").write_text("+" + step.controller)
            except FileNotFoundError:
                return None  # the group is gone: nothing to enable again
            except OSError as exc:
                return f"enabling {step.controller} again in {path}/cgroup.subtree_control: {exc.strerror}"
            return None
        return f"unknown journal step {step}"

    def _unmount_hierarchy(self, mountpoint: Path, controllers: str) -> str | None:
        first = controllers.split(",")[0]
        mounted = any(m.mountpoint == str(mountpoint) for m in read_mounts())
        if not mounted:
            if _hierarchy_id(first) == 0:
                return None
            # Unmounted while it still had groups: the kernel keeps such a hierarchy
            # alive, unreachable. Mount it again to empty it and let it go.
            mountpoint.mkdir(exist_ok=True)
            proc = _mount_cgroup_v1(controllers, mountpoint)
            if proc.returncode != 0:
                return f"{controllers}: lingering hierarchy, remount failed: {proc.stderr.strip()}"
        # A hierarchy is destroyed on umount only when it has no child groups at all,
        # dying ones included, so remove the empty groups and wait until they are gone.
        # Groups that still hold processes (someone's container) keep it mounted.
        deadline = time.monotonic() + self.settle_seconds
        while True:
            busy = _remove_child_groups(mountpoint)
            if not busy and _cgroup_count(first) <= 1:
                break
            if time.monotonic() >= deadline:
                if busy:
                    return (f"{controllers}: left mounted at {mountpoint}, groups still hold processes: "
                            f"{', '.join(busy)}; run `python -m conformance.machine --restore` later")
                break
            time.sleep(0.2)
        proc = subprocess.run(["umount", str(mountpoint)], capture_output=True, text=True)
        if proc.returncode != 0:
            return f"umount {mountpoint}: {proc.stderr.strip()}"
        for _ in range(100):  # the old hierarchy is destroyed asynchronously
            if _hierarchy_id(first) == 0:
                return None if first != "hugetlb" else _check_hugetlb_on_cgroup2()
            time.sleep(0.05)
        return f"{controllers}: unmounted but the v1 hierarchy lingers ({first} hierarchy id {_hierarchy_id(first)})"


def _mount_cgroup_v1(controllers: str, mountpoint: Path) -> subprocess.CompletedProcess[str]:
    # A controller just disabled in cgroup2 keeps its dying groups for a moment, and the
    # kernel refuses to move it (EBUSY, which mount(8) words "already mounted") until they
    # are released: retry for a while.
    deadline = time.monotonic() + 5.0
    while True:
        proc = subprocess.run(["mount", "-t", "cgroup", "-o", controllers, "cgroup", str(mountpoint)],
                              capture_output=True, text=True)
        if proc.returncode == 0 or time.monotonic() >= deadline:
            return proc
        time.sleep(0.1)


def _groups_enabling(root2: Path, controller: str) -> list[Path]:
    """cgroup2 groups (root included) whose subtree_control enables the controller."""
    return [Path(d) for d, _, _ in os.walk(root2)
            if controller in _read_words(Path(d) / "cgroup.subtree_control")]


def _groups_reached(root2: Path, controller: str) -> list[Path]:
    """cgroup2 groups below the root that the controller is offered to."""
    return [Path(d) for d, _, _ in os.walk(root2)
            if d != str(root2) and controller in _read_words(Path(d) / "cgroup.controllers")]


def _holds_processes(group: Path) -> bool:
    return bool(_read_words(group / "cgroup.procs"))


def _has_hugetlb_limit(group: Path) -> bool:
    """Any hugetlb.<size>.max (or .rsvd.max) that really limits.

    Runtimes that write "-1" leave the page-rounded maximum (9223372036854771712) rather
    than "max": as unlimited as "max", which is what re-enabling the controller restores."""
    for limit in group.glob("hugetlb.*.max"):
        try:
            value = limit.read_text().strip()
        except OSError:
            continue
        if value == "max":
            continue
        try:
            if int(value) < UNLIMITED_FLOOR:
                return True
        except ValueError:
            return True  # unreadable: count it as a limit, so hugetlb is left alone
    return False


def _remove_child_groups(mountpoint: Path) -> list[str]:
    """rmdir every child group, deepest first; returns those that are still there."""
    children = sorted((p for p, _, _ in os.walk(mountpoint) if p != str(mountpoint)),
                      key=lambda p: p.count("/"), reverse=True)
    busy = []
    for child in children:
        try:
            os.rmdir(child)
        except FileNotFoundError:
            pass
        except OSError:
            busy.append(child)
    return busy


def _proc_cgroups_row(controller: str) -> list[str]:
    for line in Path("/proc/cgroups").read_text().splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == controller:
            return fields
    return []


def _hierarchy_id(controller: str) -> int:
    """0 when the controller is on cgroup2 (or unused), else its v1 hierarchy id."""
    row = _proc_cgroups_row(controller)
    return int(row[1]) if len(row) > 1 else 0


def _cgroup_count(controller: str) -> int:
    row = _proc_cgroups_row(controller)
    return int(row[2]) if len(row) > 2 else 0


def _check_hugetlb_on_cgroup2() -> str | None:
    root2 = _cgroup2_root()
    if root2 is None or "hugetlb" in _read_words(root2 / "cgroup.controllers"):
        return None
    return f"hugetlb is off v1 but not listed in {root2}/cgroup.controllers"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restore", action="store_true", help="undo a journalled preparation")
    args = parser.parse_args(argv)
    if not args.restore:
        parser.print_help()
        return 2
    prep = Preparation.from_journal()
    if not prep.steps:
        return 0
    problems = prep.restore()
    for problem in problems:
        print(f"conformance: machine restore: {problem}", file=sys.stderr)
    if not problems:
        print("conformance: machine preparation undone")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
