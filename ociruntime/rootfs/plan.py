"""The rootfs plan: config.json's root, mounts, devices and path lists, checked and turned
into plain values before anything is touched. Pure: no syscalls beyond stat-ing the rootfs
and bind-mount sources, no C extension, so it runs (and is tested) without root.
"""

from __future__ import annotations

import os
import posixpath

from ociruntime.errors import ConfigError
from ociruntime.records import tuple_record
from ociruntime.rootfs.options import (
    MS_BIND,
    MS_PRIVATE,
    MS_REMOUNT,
    PROPAGATION,
    SUPPORTED_MOUNT_OPTIONS,
    MountOptions,
    parse_mount_options,
)

TYPE_CHECKING = False  # `import typing` costs ~8 ms on every create
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "SUPPORTED_MOUNT_OPTIONS",
    "DevicePlan",
    "MountPlan",
    "RootfsPlan",
    "RuntimeState",
    "plan_rootfs",
]

# Mount kinds with their own set-up; everything else is mounted as given ("generic").
SPECIAL_FS = ("proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2")

# Files under /proc that may be mounted over (lxcfs emulates them); anything else under
# /proc is refused, as runc's checkProcMount does.
PROC_MOUNT_ALLOWED = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
    "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
})

# runtime-spec config-linux.md "Default Devices" (c, major, minor); /dev/ptmx and
# /dev/console are handled apart (symlink to pts/ptmx; the console code).
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
)

ROOTFS_PROPAGATION_NAMES = "shared, slave, private, unbindable"


@tuple_record
class MountPlan:
    index: int  # position in config.json mounts[], for messages
    kind: str  # "bind", "remount", one of SPECIAL_FS, or "generic"
    source: str  # absolute host path for binds; the mount(2) source otherwise
    destination: str  # absolute, normalised path inside the container
    fstype: str
    options: MountOptions

    @property
    def field(self) -> str:
        return f"mounts[{self.index}]"

    @property
    def flags(self) -> int:
        return self.options.flags


@tuple_record
class DevicePlan:
    path: str  # absolute path inside the container
    type: str  # "c", "b" or "p" ("u" is "c")
    major: int
    minor: int
    mode: int  # permission bits
    uid: int
    gid: int
    field: str  # "linux.devices[2]", or "default device /dev/null"


class RuntimeState:
    """Handles the set-up functions pass along inside the container init (one process):
    fds stay valid across pivot_root. Not part of the plan's value."""

    __slots__ = ("root_fd", "proc", "readonly_later", "host_tree")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuntimeState)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "RuntimeState()"

    def __init__(self) -> None:
        self.root_fd: int = -1  # O_PATH fd of the container's root mount
        self.proc: Any = None  # ociruntime.rootfs.resolve.ProcSelf
        self.readonly_later: list[tuple[str, int]] = []  # (field, O_PATH fd of a mount root)
        self.host_tree: str | None = None  # where the rootfs is mounted without a mount namespace


@tuple_record
class RootfsPlan:
    """Everything rootfs set-up needs; immutable (use ._replace), except `state`."""

    rootfs: str  # absolute, symlink-free host path of the root filesystem
    readonly: bool
    mounts: tuple[MountPlan, ...]
    devices: tuple[DevicePlan, ...]
    setup_dev: bool  # False when /dev is bind-mounted: no devices, ptmx or /dev symlinks then
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    root_propagation: int  # MS_* for "/" after pivot_root; 0 keeps runc's default (rslave)
    mount_ns: str  # "new", "joined" or "host" (no mount namespace: mounts land in the host's)
    user_ns: bool
    cgroup_ns: bool
    no_pivot: bool
    mount_label: str
    host_mount_dir: str | None  # runtime-owned dir that holds the mounts when mount_ns == "host"
    state: RuntimeState  # handles passed from prepare to enter to finalize (one per plan)

    @property
    def host_mounts(self) -> list[str]:
        """Mount points this container leaves in the runtime's mount namespace (to unmount
        on delete); empty when it has a mount namespace of its own."""
        if self.mount_ns != "host" or self.host_mount_dir is None:
            return []
        return [host_rootfs_mountpoint(self.host_mount_dir)]


def host_rootfs_mountpoint(host_mount_dir: str) -> str:
    return os.path.join(host_mount_dir, "rootfs")


def plan_rootfs(
    config: dict, bundle: str, *, no_pivot: bool = False, host_mount_dir: str | None = None
) -> RootfsPlan:
    """Check and plan root, mounts, devices, masked/readonly paths and propagation.

    host_mount_dir: a runtime-owned directory (the container's state dir) under which a
    container without a mount namespace gets its rootfs mounted, so that delete can remove
    every mount it made (see cleanup_host_side).
    """
    linux = _object(config.get("linux", {}), "linux")
    rootfs, readonly = _plan_root(config, bundle)
    namespaces = _namespaces(linux)
    mounts = tuple(_plan_mount(index, m, bundle) for index, m in enumerate(_list(config, "mounts")))
    setup_dev = not any(m.kind == "bind" and m.destination == "/dev" for m in mounts)
    mount_label = linux.get("mountLabel", "")
    if not isinstance(mount_label, str):
        raise ConfigError("linux.mountLabel", "must be a string")
    return RootfsPlan(
        rootfs=rootfs,
        readonly=readonly,
        mounts=mounts,
        devices=_plan_devices(linux),
        setup_dev=setup_dev,
        masked_paths=_absolute_paths(linux, "maskedPaths"),
        readonly_paths=_absolute_paths(linux, "readonlyPaths"),
        root_propagation=_root_propagation(linux, no_pivot),
        mount_ns=_mount_ns(namespaces),
        user_ns="user" in namespaces,
        cgroup_ns="cgroup" in namespaces,
        no_pivot=no_pivot,
        mount_label=mount_label,
        host_mount_dir=host_mount_dir,
        state=RuntimeState(),
    )


# -- root -------------------------------------------------------------------------------


def _plan_root(config: dict, bundle: str) -> tuple[str, bool]:
    root = config.get("root")
    if not isinstance(root, dict):
        raise ConfigError("root", "is required and must be an object")
    path = root.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError("root.path", "is required and must be a non-empty string")
    readonly = root.get("readonly", False)
    if not isinstance(readonly, bool):
        raise ConfigError("root.readonly", "must be a boolean")
    # Relative to the bundle (config.md "Root"); symlinks resolved once, here, on the host.
    full = os.path.realpath(os.path.join(bundle, path))
    if not os.path.exists(full):
        raise ConfigError("root.path", f'"{path}" does not exist')
    if not os.path.isdir(full):
        raise ConfigError("root.path", f'"{path}" is not a directory')
    return full, readonly


# -- mounts -----------------------------------------------------------------------------


def _plan_mount(index: int, mount: Any, bundle: str) -> MountPlan:
    where = f"mounts[{index}]"
    if not isinstance(mount, dict):
        raise ConfigError(where, "must be an object")
    options = mount.get("options") or []
    if not isinstance(options, list):
        raise ConfigError(f"{where}.options", "must be an array of strings")
    if mount.get("uidMappings") or mount.get("gidMappings"):
        raise ConfigError(f"{where}.uidMappings", "id-mapped mounts are not supported by this runtime")
    opts = parse_mount_options(options, f"{where}.options")
    fstype = mount.get("type") or ""
    source = mount.get("source") or ""
    for key, value in (("type", fstype), ("source", source)):
        if not isinstance(value, str) or "\0" in value:
            raise ConfigError(f"{where}.{key}", "must be a string without NUL bytes")
    destination = _container_path(mount.get("destination"), f"{where}.destination")
    if destination == "/":
        raise ConfigError(f"{where}.destination", "cannot mount over the container's root")

    if fstype == "bind" and not opts.is_bind:
        # "type": "bind" with no bind option: every runtime but runc treats it as a bind.
        opts = opts._replace(flags=opts.flags | MS_BIND)
    if opts.flags & MS_REMOUNT:
        kind = "remount"
    elif opts.is_bind:
        kind = "bind"
        if not source:
            raise ConfigError(f"{where}.source", "is required for a bind mount")
        # Relative to the bundle (config.md "Mounts").
        source = os.path.normpath(os.path.join(bundle, source))
        if not os.path.exists(source):
            raise ConfigError(f"{where}.source", f'"{mount.get("source")}" does not exist')
    elif fstype in SPECIAL_FS:
        kind = fstype
    elif fstype:
        kind = "generic"
    else:
        raise ConfigError(f"{where}.type", "is required for a mount that is not a bind mount")
    if opts.copyup and kind != "tmpfs":
        raise ConfigError(f"{where}.options", '"tmpcopyup" is only valid for tmpfs mounts')
    _check_proc_destination(kind, destination, f"{where}.destination")
    return MountPlan(
        index=index,
        kind=kind,
        source=source or fstype,
        destination=destination,
        fstype=fstype,
        options=opts,
    )


def _check_proc_destination(kind: str, destination: str, where: str) -> None:
    """Nothing but procfs over /proc, and nothing inside it but lxcfs-style files
    (runc's checkProcMount). The real check happens again at mount time, on the resolved
    target, so a symlink in the rootfs cannot route a mount into /proc either."""
    if kind == "remount":
        return
    if destination == "/proc":
        if kind not in ("proc", "bind"):  # a bind must then have a procfs source (checked later)
            raise ConfigError(where, f'"/proc" cannot be mounted because it is not of type proc (type {kind})')
    elif destination.startswith("/proc/") and destination not in PROC_MOUNT_ALLOWED:
        raise ConfigError(where, f'"{destination}" cannot be mounted because it is inside /proc')


def _container_path(value: Any, where: str) -> str:
    """An absolute, normalised path inside the container. Relative paths are read as
    relative to "/" (config.md: allowed for mounts, deprecated)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(where, "must be a non-empty path")
    if "\0" in value:
        raise ConfigError(where, "must not contain NUL bytes")
    path = posixpath.normpath("/" + value)
    return "/" + path.lstrip("/")


# -- devices ----------------------------------------------------------------------------


def _plan_devices(linux: dict) -> tuple[DevicePlan, ...]:
    entries = _list(linux, "devices", prefix="linux.")
    planned = [_plan_device(index, entry) for index, entry in enumerate(entries)]
    configured = {d.path for d in planned}
    # A configured device replaces the default one at the same path (runc does the same).
    defaults = [
        DevicePlan(path, "c", major, minor, 0o666, 0, 0, f"default device {path}")
        for path, major, minor in DEFAULT_DEVICES
        if path not in configured
    ]
    return tuple(defaults + planned)


def _plan_device(index: int, entry: Any) -> DevicePlan:
    where = f"linux.devices[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(where, "must be an object")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(f"{where}.path", f"{path!r} is not an absolute path")
    path = _container_path(path, f"{where}.path")
    if path == "/":
        raise ConfigError(f"{where}.path", '"/" is not a device path')
    dev_type = entry.get("type")
    if dev_type not in ("c", "b", "u", "p"):
        raise ConfigError(f"{where}.type", f"{dev_type!r} is not one of c, b, u, p")
    numbers = {}
    for key in ("major", "minor"):
        value = entry.get(key, 0 if dev_type == "p" else None)
        if value is None and dev_type != "p":
            raise ConfigError(f"{where}.{key}", f"is required for a device of type {dev_type}")
        if not _is_int(value) or value < 0:
            raise ConfigError(f"{where}.{key}", f"{value!r} is not a non-negative integer")
        numbers[key] = value
    mode = entry.get("fileMode", 0o666)
    if not _is_int(mode) or mode < 0:
        raise ConfigError(f"{where}.fileMode", f"{mode!r} is not a non-negative integer")
    ids = {}
    for key in ("uid", "gid"):
        value = entry.get(key, 0)
        if not _is_int(value) or not 0 <= value < 2**32:
            raise ConfigError(f"{where}.{key}", f"{value!r} is not a valid id")
        ids[key] = value
    return DevicePlan(
        path=path,
        type="c" if dev_type == "u" else dev_type,
        major=numbers["major"],
        minor=numbers["minor"],
        mode=mode & 0o7777,  # a type in the mode bits is ignored, as runc does
        uid=ids["uid"],
        gid=ids["gid"],
        field=where,
    )


# -- linux.* paths, propagation, namespaces ----------------------------------------------


def _absolute_paths(linux: dict, key: str) -> tuple[str, ...]:
    paths = []
    for index, path in enumerate(_list(linux, key, prefix="linux.")):
        where = f"linux.{key}[{index}]"
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(where, f"{path!r} is not an absolute path")
        paths.append(_container_path(path, where))
    return tuple(paths)


def _root_propagation(linux: dict, no_pivot: bool) -> int:
    name = linux.get("rootfsPropagation")
    if name in (None, ""):
        return 0
    if name not in PROPAGATION:
        raise ConfigError("linux.rootfsPropagation", f"{name!r} is not one of {ROOTFS_PROPAGATION_NAMES}")
    flags = PROPAGATION[name]
    if no_pivot and flags & MS_PRIVATE:
        raise ConfigError("linux.rootfsPropagation", f'"{name}" is not safe without pivot_root (--no-pivot)')
    return flags


def _namespaces(linux: dict) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for entry in _list(linux, "namespaces", prefix="linux."):
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            found[entry["type"]] = entry.get("path") or None
    return found


def _mount_ns(namespaces: dict[str, str | None]) -> str:
    if "mount" not in namespaces:
        return "host"
    return "joined" if namespaces["mount"] else "new"


# -- helpers ----------------------------------------------------------------------------


def _object(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(where, "must be an object")
    return value


def _list(obj: dict, key: str, *, prefix: str = "") -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{prefix}{key}", "must be an array")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
