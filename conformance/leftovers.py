"""Finds what one validation test left on the machine and removes only that.

Before each test the harness takes a Snapshot; after it, anything new is the test's:
- containers the runtime still lists whose bundle is a suite bundle (/tmp/ocitest*);
- processes: every descendant of the harness (see processes.py);
- cgroup directories, in every mounted hierarchy, that did not exist before and are named
  like the suite's (`cgrouptest`, `testdir`) or like a container id (the suite's ids are
  UUIDs). Other new directories are reported, never removed: they may belong to someone
  else working on this machine at the same time;
- mounts under /tmp/ocitest* (linux_ns_itype leaves proc, dev, sys mounted on the host);
- /tmp/ocitest* bundle directories, removed only once nothing is mounted below them.

The suite never passes --root, so ociruntime's seccomp cache fills the machine's default
root: SeccompCacheEntries removes the entries a whole run added (podman's tests use it too).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance import processes

BUNDLE_PREFIX = "/tmp/ocitest"
_SUITE_CGROUP_NAMES = {"cgrouptest", "testdir"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MNT_DETACH = 2


@dataclass(frozen=True)
class Mount:
    mount_id: int
    mountpoint: str
    fstype: str
    source: str
    super_options: str


def _unescape(field_text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_text)


def read_mounts() -> list[Mount]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        post = after.split()
        mounts.append(Mount(int(fields[0]), _unescape(fields[4]), post[0],
                            _unescape(post[1]) if len(post) > 1 else "",
                            post[2] if len(post) > 2 else ""))
    return mounts


def cgroup_roots() -> list[str]:
    return sorted({m.mountpoint for m in read_mounts() if m.fstype in ("cgroup", "cgroup2")})


def _cgroup_dirs() -> set[str]:
    found: set[str] = set()
    for root in cgroup_roots():
        for dirpath, _, _ in os.walk(root):
            found.add(dirpath)
    return found


def _bundle_dirs() -> set[str]:
    parent = os.path.dirname(BUNDLE_PREFIX)
    prefix = os.path.basename(BUNDLE_PREFIX)
    try:
        return {os.path.join(parent, e) for e in os.listdir(parent) if e.startswith(prefix)}
    except FileNotFoundError:
        return set()


def _bundle_mounts() -> set[tuple[int, str]]:
    return {(m.mount_id, m.mountpoint) for m in read_mounts() if m.mountpoint.startswith(BUNDLE_PREFIX)}


@dataclass(frozen=True)
class Container:
    id: str
    status: str
    bundle: str


def list_containers(runtime: str) -> dict[str, Container] | None:
    """The runtime's containers (`list --format json`), or None when it cannot list."""
    try:
        proc = subprocess.run([runtime, "list", "--format", "json"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        entries = json.loads(proc.stdout or "null") or []
    except ValueError:
        return None
    return {e["id"]: Container(e["id"], e.get("status", ""), e.get("bundle", ""))
            for e in entries if isinstance(e, dict) and "id" in e}


@dataclass(frozen=True)
class Snapshot:
    cgroups: set[str]
    bundles: set[str]
    mounts: set[tuple[int, str]]
    containers: dict[str, Container] | None

    @classmethod
    def take(cls, runtime: str) -> Snapshot:
        return cls(_cgroup_dirs(), _bundle_dirs(), _bundle_mounts(), list_containers(runtime))


@dataclass
class Cleanup:
    """What was found after one test; `left` holds what could not (or may not) be removed."""

    containers: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    bundles: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    # New cgroups not named like the suite's: most likely another user's containers on
    # this machine, created while the test ran. Reported, never touched.
    not_ours: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.__dict__.items() if v}


def clean_after_test(runtime: str, before: Snapshot) -> Cleanup:
    result = Cleanup()
    processes.reap_zombies()
    new_ids = _delete_new_containers(runtime, before, result)
    for pid, command in sorted(processes.kill_descendants().items()):
        result.processes.append(f"{pid} {command}")
    if result.processes:  # a killed container init may leave state that only now deletes
        _delete_new_containers(runtime, before, result)
    _remove_new_cgroups(before, new_ids, result)
    _unmount_new(before, result)
    _remove_new_bundles(before, result)
    return result


def _delete_new_containers(runtime: str, before: Snapshot, result: Cleanup) -> set[str]:
    now = list_containers(runtime)
    if now is None:
        return set()
    known = before.containers or {}
    new = {cid: c for cid, c in now.items() if cid not in known}
    for cid, container in sorted(new.items()):
        if not container.bundle.startswith(BUNDLE_PREFIX):
            result.left.append(f"container {cid} (bundle {container.bundle}: not a suite bundle)")
            continue
        try:
            proc = subprocess.run([runtime, "delete", "--force", cid], capture_output=True,
                                  text=True, timeout=30, stdin=subprocess.DEVNULL)
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        entry = f"{cid} ({container.status})"
        if ok and entry not in result.containers:
            result.containers.append(entry)
        elif not ok:
            result.left.append(f"container {cid}: delete --force failed")
    return set(new)


def _is_suite_cgroup(path: str, root: str, container_ids: set[str]) -> bool:
    parts = Path(os.path.relpath(path, root)).parts
    return any(p in _SUITE_CGROUP_NAMES or p in container_ids or _UUID.match(p) for p in parts)


def _remove_new_cgroups(before: Snapshot, container_ids: set[str], result: Cleanup) -> None:
    roots = cgroup_roots()
    new = sorted(_cgroup_dirs() - before.cgroups, key=lambda p: p.count("/"), reverse=True)
    for path in new:
        root = max((r for r in roots if path.startswith(r + "/")), key=len, default=None)
        if root is None:
            continue
        if not _is_suite_cgroup(path, root, container_ids):
            result.not_ours.append(path)
            continue
        if _rmdir_cgroup(path):
            result.cgroups.append(path)
        else:
            result.left.append(f"cgroup {path} (not empty)")


def _rmdir_cgroup(path: str) -> bool:
    # A cgroup whose last task just died can stay busy for a moment.
    for _ in range(20):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                return False
            time.sleep(0.05)
    return False


def _umount(path: str, flags: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(path.encode(), flags) == 0:
        return 0
    return ctypes.get_errno()


def _unmount_new(before: Snapshot, result: Cleanup) -> None:
    for _ in range(5):  # unmounting a parent can uncover or propagate others
        new = sorted(_bundle_mounts() - before.mounts, key=lambda m: (m[1].count("/"), m[0]), reverse=True)
        if not new:
            return
        for _, mountpoint in new:
            err = _umount(mountpoint)
            if err in (errno.EBUSY,):
                err = _umount(mountpoint, _MNT_DETACH)
            if err == 0:
                result.mounts.append(mountpoint)
    for _, mountpoint in sorted(_bundle_mounts() - before.mounts):
        result.left.append(f"mount {mountpoint}")


def _remove_new_bundles(before: Snapshot, result: Cleanup) -> None:
    mounted = {mp for _, mp in _bundle_mounts()}
    for bundle in sorted(_bundle_dirs() - before.bundles):
        if any(mp == bundle or mp.startswith(bundle + "/") for mp in mounted):
            result.left.append(f"bundle {bundle} (still has mounts)")
            continue
        if _remove_tree_on_one_fs(bundle):
            result.bundles.append(bundle)
        else:
            result.left.append(f"bundle {bundle} (could not remove)")


def _remove_tree_on_one_fs(top: str) -> bool:
    """rm -rf that never descends into another filesystem (belt and braces after umount)."""
    try:
        top_dev = os.lstat(top).st_dev
    except FileNotFoundError:
        return True
    return _remove_entry(top, top_dev)


def _remove_entry(path: str, device: int) -> bool:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return True
    if info.st_dev != device:
        return False
    complete = True
    with os.scandir(path) as entries:
        names = [entry.path for entry in entries]
    for child in names:
        complete = _remove_entry(child, device) and complete
    if complete:
        os.rmdir(path)
    return complete


class SeccompCacheEntries:
    """The entries of ociruntime's seccomp cache in its default root, to forget what a run
    added (a user's own entries, and the directory if it was there, stay)."""

    def __init__(self) -> None:
        from ociruntime.cli import DEFAULT_ROOT
        from ociruntime.security.seccomp_cache import CACHE_DIR

        self.directory = Path(DEFAULT_ROOT) / CACHE_DIR
        self.before = set(os.listdir(self.directory)) if self.directory.is_dir() else None

    def forget_new(self) -> None:
        if not self.directory.is_dir():
            return
        for name in set(os.listdir(self.directory)) - (self.before or set()):
            (self.directory / name).unlink(missing_ok=True)
        if self.before is None:
            self.directory.rmdir()
