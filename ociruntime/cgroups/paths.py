"""Map linux.cgroupsPath to one directory per hierarchy, the way runc does.

cgroupfs driver:
  * absolute path ``/a/b``: ``<mountpoint>/a/b`` in every hierarchy;
  * relative path ``a/b``: below the runtime's own cgroup in that hierarchy
    (on pure cgroup v2: below the parent of the own cgroup, as runc's fs2 does);
  * absent: the container id, taken as a relative path (runc's default).
systemd driver: ``slice:prefix:name`` becomes ``/<expanded slice>/<prefix>-<name>.scope``.

Everything here is pure: the own-cgroup table is passed in.
"""

from __future__ import annotations

import posixpath

from ociruntime.cgroups.layout import Hierarchy, Layout
from ociruntime.errors import ConfigError

PROC_SELF_CGROUP = "/proc/self/cgroup"


def clean_path(path: str) -> str:
    """runc's CleanPath: normalise, and keep relative paths from climbing with '..'."""
    if not path:
        return ""
    path = posixpath.normpath(path)
    if not path.startswith("/"):
        path = posixpath.relpath(posixpath.normpath("/" + path), "/")
    return posixpath.normpath(path)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup -> {controller: path}; the v2 entry is keyed 'unified'."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            out["unified"] = path
            continue
        for name in names.split(","):
            out[name] = path
    return out


def read_own_cgroups(path: str = PROC_SELF_CGROUP) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        return parse_proc_cgroup(f.read())


class SystemdUnit:
    """A systemd scope (or slice) for --systemd-cgroup: 'slice:prefix:name'."""

    __slots__ = ("slice", "prefix", "name")

    def __init__(self, slice_name: str, prefix: str, name: str) -> None:
        self.slice = slice_name
        self.prefix = prefix
        self.name = name

    @property
    def unit(self) -> str:
        # A name ending in .slice asks for a slice; anything else becomes a scope.
        if self.name.endswith(".slice"):
            return self.name
        return f"{self.prefix}-{self.name}.scope" if self.prefix else f"{self.name}.scope"

    def path(self) -> str:
        return posixpath.join(expand_slice(self.slice), self.unit)


def expand_slice(slice_name: str) -> str:
    """systemd's slice nesting: 'a-b-c.slice' -> '/a.slice/a-b.slice/a-b-c.slice'."""
    suffix = ".slice"
    if len(slice_name) <= len(suffix) or not slice_name.endswith(suffix) or "/" in slice_name:
        raise ConfigError("linux.cgroupsPath", f"invalid slice name: {slice_name}")
    stem = slice_name[: -len(suffix)]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for component in stem.split("-"):
        if not component:
            raise ConfigError("linux.cgroupsPath", f"invalid slice name: {slice_name}")
        path += "/" + prefix + component + suffix
        prefix += component + "-"
    return path


def systemd_unit(cgroups_path: str, container_id: str) -> SystemdUnit:
    """Parse 'slice:prefix:name' (runc's --systemd-cgroup format)."""
    if not cgroups_path:
        return SystemdUnit("system.slice", "runc", container_id)
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise ConfigError(
            "linux.cgroupsPath",
            f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
            f"got {cgroups_path!r} instead",
        )
    slice_name, prefix, name = parts
    if not name:
        raise ConfigError("linux.cgroupsPath", f"systemd unit name is empty in {cgroups_path!r}")
    return SystemdUnit(slice_name or "system.slice", prefix, name)


def inner_path(cgroups_path: str | None, container_id: str) -> str:
    """The cgroupfs inner path: cleaned cgroupsPath, or the id (relative) when absent."""
    return clean_path(cgroups_path or "") or clean_path(container_id)


def hierarchy_dir(h: Hierarchy, inner: str, own: dict[str, str], *, pure_v2: bool) -> str:
    """The directory for `inner` in hierarchy `h`."""
    if inner.startswith("/"):
        return posixpath.normpath(h.mountpoint + inner)
    own_path = own.get(h.key(), "/")
    if pure_v2:
        own_path = posixpath.dirname(own_path)
    # Strip the part of our own path that lies above the mounted root.
    root = h.root.rstrip("/")
    if root and (own_path == root or own_path.startswith(root + "/")):
        own_path = own_path[len(root):] or "/"
    return posixpath.normpath(posixpath.join(h.mountpoint + own_path, inner))


def hierarchy_dirs(layout: Layout, inner: str, own: dict[str, str] | None) -> dict[str, str]:
    """{hierarchy key: dir} for every mounted hierarchy (own is needed for relative paths)."""
    own = own or {}
    out: dict[str, str] = {}
    for h in layout.v1:
        out[h.key()] = hierarchy_dir(h, inner, own, pure_v2=False)
    if layout.unified is not None:
        out["unified"] = hierarchy_dir(layout.unified, inner, own, pure_v2=layout.mode == "v2")
    return out
