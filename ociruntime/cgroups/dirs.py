"""Directories of a container's cgroup: make them (remembering which), fill a new v1
cpuset, and remove only what ociruntime made, deepest first."""

from __future__ import annotations

import errno
import posix
import time

from ociruntime.cgroups import cgfile, marks
from ociruntime.cgroups.cgfile import CONFIG_FIELDS
from ociruntime.errors import ConfigError
from ociruntime import posixlite


def ancestors(d: str, mount: str) -> list[str]:
    """mount, ..., parent of d (top-down); [] for the mount itself. d lies below mount."""
    base = mount.rstrip("/")
    if d.rstrip("/") == base:
        return []
    if not d.startswith(base + "/"):
        raise ValueError(f"cgroup {d} is not below its mount point {mount}")
    parts = [p for p in d[len(base) + 1:].split("/") if p]
    return [mount] + [posixlite.join(mount, *parts[:i]) for i in range(1, len(parts))]


def mkdirs(d: str, mount: str) -> list[str]:
    """mkdir -p below the mount point; returns the directories this call created."""
    made = []
    for path in ancestors(d, mount)[1:] + [d]:
        try:
            posix.mkdir(path, 0o755)
        except FileExistsError:
            continue
        except OSError as e:
            for p in reversed(made):
                rmdir_quiet(p)
            raise ConfigError("linux.cgroupsPath",
                              f"cannot create cgroup {path}: {posix.strerror(e.errno)}") from e
        made.append(path)
        marks.mark_created(path)
    return made


def populate_cpuset(leaf: str, mount: str) -> None:
    """A new v1 cpuset has no CPUs or memory nodes; copy the parent's into empty ones."""
    for d in ancestors(leaf, mount)[1:] + [leaf]:
        parent = posixlite.dirname(d)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if cgfile.read(d, name).strip():
                continue
            cgfile.write(d, name, cgfile.read(parent, name).strip(), "cpu." + name[7:], CONFIG_FIELDS)


def has_child_cgroups(d: str) -> bool:
    try:
        with posix.scandir(d) as it:
            return any(e.is_dir(follow_symlinks=False) for e in it)
    except OSError:
        return False


def rmdir_quiet(d: str) -> None:
    try:
        posix.rmdir(d)
    except OSError:
        pass


def _rmdir(d: str) -> int:
    """0 when d is gone (removed now or before), else the errno."""
    try:
        posix.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError as e:
        return e.errno or errno.EIO
    return 0


def remove_tree(d: str, deadline: float) -> int:
    """rmdir d and any sub-cgroups (made inside the container); retry EBUSY until deadline."""
    err = _rmdir(d)
    if err != errno.EBUSY:
        return err
    try:
        with posix.scandir(d) as it:
            children = [e.path for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return 0
    for child in children:
        err = remove_tree(child, deadline)
        if err:
            return err
    delay = 0.001
    while True:
        err = _rmdir(d)
        if err != errno.EBUSY or time.monotonic() >= deadline:
            return err
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def remove_unused_parents(d: str, mount: str, created: set[str]) -> None:
    """Remove empty parents that ociruntime made (this container or a sibling)."""
    parent = posixlite.dirname(d)
    while parent != mount and parent.startswith(mount + "/"):
        if parent not in created and not marks.is_created(parent):
            return
        try:
            posix.rmdir(parent)
        except FileNotFoundError:
            pass
        except OSError:
            return   # still used by another container
        parent = posixlite.dirname(parent)
