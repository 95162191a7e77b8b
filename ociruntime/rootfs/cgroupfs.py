"""The "cgroup" mount type, as runc does it.

On a cgroup v2 (unified) host: one cgroup2 mount. On a v1 or hybrid host (this one): a
tmpfs at the destination, one directory per hierarchy under it (named as on the host:
cpu, memory, systemd, "net_cls,net_prio", and "unified" for the hybrid cgroup2 tree),
symlinks for co-mounted controllers (net_cls -> net_cls,net_prio), then the tmpfs made
read-only if asked. With a cgroup namespace each hierarchy is a fresh cgroup mount (the
kernel shows the namespace's root); without one it is a bind of the container's own
cgroup directory on the host, so the rest of the host's tree stays out of sight.

The parsing helpers are pure; the mount functions run in the container init.
"""

from __future__ import annotations

import errno
import os
import posixpath

from ociruntime.errors import KernelError
from ociruntime.records import tuple_record
from ociruntime.rootfs.options import MS_RDONLY, MountOptions

TYPE_CHECKING = False  # `import typing` costs ~8 ms on every create
if TYPE_CHECKING:
    from ociruntime.rootfs.mounting import MountContext
    from ociruntime.rootfs.plan import MountPlan

CGROUP_ROOT = "/sys/fs/cgroup"


@tuple_record
class MountInfo:
    mount_id: int
    parent_id: int
    root: str
    mount_point: str
    fstype: str
    source: str
    super_options: tuple[str, ...]


@tuple_record
class Hierarchy:
    name: str  # directory name under the container's cgroup mount ("cpu", "unified")
    mount_point: str  # where the host has it mounted
    fstype: str  # "cgroup" or "cgroup2"
    controllers: str  # mount data for a fresh v1 mount: "cpu,cpuacct", "name=systemd"; "" for v2
    own_path: str  # the container's cgroup in this hierarchy, as in /proc/self/cgroup
    root: str  # the hierarchy path the host's mount shows at its mount point

    @property
    def host_source(self) -> str:
        """The host directory of our own cgroup in this hierarchy."""
        rel = posixpath.relpath(self.own_path, self.root)
        if rel == ".." or rel.startswith("../"):
            raise KernelError(
                f"cgroup {self.own_path} is outside the host's mount of {self.mount_point} (root {self.root})", 0
            )
        return posixpath.normpath(posixpath.join(self.mount_point, rel))


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field:
        return field
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[MountInfo]:
    entries = []
    for line in text.splitlines():
        if not line:
            continue
        left, right = line.split(" - ", 1)
        fields = left.split(" ")
        fstype, source, super_options = (right.split(" ", 2) + ["", ""])[:3]
        entries.append(
            MountInfo(
                mount_id=int(fields[0]),
                parent_id=int(fields[1]),
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                fstype=fstype,
                source=_unescape(source),
                super_options=tuple(super_options.split(",")),
            )
        )
    return entries


def parse_proc_cgroup(text: str) -> list[tuple[str, str]]:
    """(controllers, path) per line of /proc/<pid>/cgroup; controllers "" is cgroup v2."""
    found = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            found.append((parts[1], parts[2]))
    return found


def hierarchies(mountinfo: list[MountInfo], proc_cgroup: list[tuple[str, str]]) -> list[Hierarchy]:
    """Every hierarchy we are in that the host has mounted, once each, in /proc/self/cgroup
    order reversed (the kernel lists the newest hierarchy first)."""
    found: list[Hierarchy] = []
    seen: set[str] = set()
    for controllers, path in reversed(proc_cgroup):
        wanted = set(controllers.split(",")) if controllers else set()
        fstype = "cgroup" if controllers else "cgroup2"
        candidates = [
            m for m in mountinfo
            if m.fstype == fstype and (not wanted or wanted <= set(m.super_options))
        ]
        # Prefer the conventional place (a hierarchy can be mounted more than once).
        candidates.sort(key=lambda m: not m.mount_point.startswith(CGROUP_ROOT + "/"))
        if not candidates:
            continue
        mount = candidates[0]
        name = posixpath.basename(mount.mount_point.rstrip("/")) or ("unified" if fstype == "cgroup2" else "")
        if not name or name in seen:
            continue
        seen.add(name)
        found.append(Hierarchy(name, mount.mount_point, fstype, controllers, path, mount.root))
    return found


# -- in the container init ----------------------------------------------------------------


def _read_proc(ctx: "MountContext", name: str) -> str:
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=ctx.proc.fd)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def _host_is_unified() -> bool:
    from ociruntime.linux import fs

    fd = os.open(CGROUP_ROOT, os.O_PATH | os.O_CLOEXEC)
    try:
        return fs.is_fs_type(fd, fs.CGROUP2_SUPER_MAGIC)
    finally:
        os.close(fd)


def mount_cgroup(ctx: "MountContext", m: "MountPlan") -> None:
    if _host_is_unified():
        mount_cgroup2(ctx, m)
    else:
        mount_cgroup_v1(ctx, m)


def mount_cgroup2(ctx: "MountContext", m: "MountPlan") -> None:
    from ociruntime.rootfs import mounting

    try:
        os.close(mounting.new_fs(ctx, m, fstype="cgroup2", source=m.source or "cgroup2"))
    except OSError as err:
        # A user namespace without its own cgroup namespace may not mount cgroup2 (EPERM,
        # or EBUSY): bind our own part of the host's tree, as runc does.
        if err.errno not in (errno.EPERM, errno.EBUSY):
            raise
        own = [h for h in _our_hierarchies(ctx) if h.fstype == "cgroup2"]
        if not own:
            raise
        mounting.bind_host_path(ctx, m, own[0].host_source)


def _our_hierarchies(ctx: "MountContext") -> list[Hierarchy]:
    return hierarchies(parse_mountinfo(_read_proc(ctx, "mountinfo")), parse_proc_cgroup(_read_proc(ctx, "cgroup")))


def mount_cgroup_v1(ctx: "MountContext", m: "MountPlan") -> None:
    from ociruntime.rootfs import mounting

    readonly = bool(m.flags & MS_RDONLY)
    tmpfs_opts = MountOptions(flags=mounting.CGROUP_TMPFS_FLAGS, propagation=m.options.propagation, data="mode=755")
    tmpfs = mounting.new_fs(ctx, m, fstype="tmpfs", source="tmpfs", options=tmpfs_opts)
    try:
        for h in _our_hierarchies(ctx):
            sub = m._replace(destination=posixpath.join(m.destination, h.name))
            if ctx.plan.cgroup_ns:
                flags = mounting.CGROUP_TMPFS_FLAGS | (MS_RDONLY if readonly else 0)
                fresh = MountOptions(flags=flags, propagation=m.options.propagation)
                source = "systemd" if h.controllers == "name=systemd" else ("cgroup2" if h.fstype == "cgroup2" else "cgroup")
                os.close(mounting.new_fs(ctx, sub, fstype=h.fstype, source=source, data=h.controllers, options=fresh))
            else:
                mounting.bind_host_path(ctx, sub, h.host_source, recursive=True)
            if "," in h.name:
                for alias in h.name.split(","):
                    try:
                        os.symlink(h.name, alias, dir_fd=tmpfs)
                    except FileExistsError:
                        pass
        if readonly:
            from ociruntime.linux import mounts

            mounts.mount_setattr("", mounts.MOUNT_ATTR_RDONLY, dirfd=tmpfs)
    finally:
        os.close(tmpfs)
