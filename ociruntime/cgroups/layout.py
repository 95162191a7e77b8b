"""Where the cgroup hierarchies are mounted: v1, v2 (unified) or hybrid.

Read once from /proc/self/mountinfo. Each cgroup v1 mount is one hierarchy holding one or
more controllers (``cpu,cpuacct``) or a named hierarchy (``name=systemd``); a cgroup2 mount
is the unified hierarchy. Pure parsing is separate from reading so tests can feed text.
"""

from __future__ import annotations

MOUNTINFO = "/proc/self/mountinfo"

# cgroup v1 super-block options that are not controller names (see cgroup1_parse_param).
_V1_MOUNT_OPTIONS = frozenset({
    "rw", "ro", "all", "none", "noprefix", "clone_children", "cpuset_v2_mode", "xattr",
    "favordynmods", "nofavordynmods",
})


class Hierarchy:
    """One mounted cgroup hierarchy."""

    __slots__ = ("mountpoint", "root", "controllers")

    def __init__(self, mountpoint: str, root: str, controllers: tuple[str, ...]) -> None:
        self.mountpoint = mountpoint
        self.root = root                  # path inside the hierarchy that is mounted there
        self.controllers = controllers    # v1: ("cpu", "cpuacct") or ("name=systemd",); v2: ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and (self.mountpoint, self.root, self.controllers) == (
            other.mountpoint, other.root, other.controllers)

    def __hash__(self) -> int:
        return hash((self.mountpoint, self.root, self.controllers))

    def __repr__(self) -> str:
        return f"Hierarchy({self.mountpoint!r}, {self.root!r}, {self.controllers!r})"

    def key(self) -> str:
        """The name this hierarchy is stored under: its first controller, or 'unified'."""
        return self.controllers[0] if self.controllers else "unified"


class Layout:
    __slots__ = ("v1", "unified")

    def __init__(self, v1: tuple[Hierarchy, ...], unified: Hierarchy | None) -> None:
        self.v1 = v1
        self.unified = unified

    @property
    def mode(self) -> str:
        if self.unified is not None and not self.v1:
            return "v2"
        if self.unified is not None:
            return "hybrid"
        return "v1"

    def v1_by_controller(self) -> dict[str, Hierarchy]:
        out: dict[str, Hierarchy] = {}
        for h in self.v1:
            for c in h.controllers:
                out.setdefault(c, h)
        return out


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _controllers(super_options: str) -> tuple[str, ...]:
    names = []
    for opt in super_options.split(","):
        if opt in _V1_MOUNT_OPTIONS or opt.startswith("release_agent="):
            continue
        names.append(opt)
    return tuple(names)


def parse_mountinfo(text: str) -> Layout:
    """Build the layout from mountinfo text; the first mount of each hierarchy wins."""
    v1: list[Hierarchy] = []
    seen_devices: set[str] = set()
    unified: Hierarchy | None = None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, device = tail[0], fields[2]
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            if unified is None:
                unified = Hierarchy(mountpoint, root, ())
        elif fstype == "cgroup" and device not in seen_devices:
            seen_devices.add(device)
            controllers = _controllers(tail[2])
            if controllers:
                v1.append(Hierarchy(mountpoint, root, controllers))
    return Layout(tuple(v1), unified)


def read_layout(path: str = MOUNTINFO) -> Layout:
    with open(path, encoding="utf-8") as f:
        return parse_mountinfo(f.read())


def read_unified_controllers(unified: Hierarchy) -> frozenset[str]:
    """Controllers the cgroup2 root offers to its children (cgroup.controllers)."""
    try:
        # utf-8 rather than ascii (same text here): that codec is loaded at start-up already
        with open(unified.mountpoint + "/cgroup.controllers", encoding="utf-8") as f:
            return frozenset(f.read().split())
    except OSError:
        return frozenset()
