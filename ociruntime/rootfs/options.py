"""Mount option strings -> mount(2) flags, propagation, mount_setattr(2) attributes, data.

Pure (no C extension, no syscalls): the kernel ABI numbers are written out here so that
planning and `features` stay importable and cheap; a native test checks them against the
C headers (ociruntime.linux.mounts).

The table follows runc's parseMountOptions (libcontainer/specconv) and runtime-spec 1.3.0
config.md "Linux mount options": a known flag sets or clears an MS_* bit, a propagation
name is queued, an "r" option sets or clears a recursive MOUNT_ATTR_* bit, and anything
else is file-system data, passed on as a comma-separated string.
"""

from __future__ import annotations

from ociruntime.errors import ConfigError
from ociruntime.records import tuple_record

# mount(2) flags (<linux/mount.h>)
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

# mount_setattr(2) attributes
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

ATIME_FLAGS = MS_NOATIME | MS_RELATIME | MS_STRICTATIME

# option -> (clears?, MS_* flag). "defaults" is a no-op here (runc would pass it on as
# data, which tmpfs and friends then reject).
MOUNT_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC),
    "iversion": (False, MS_I_VERSION),
    "lazytime": (False, MS_LAZYTIME),
    "loud": (True, MS_SILENT),
    "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC),
    "noiversion": (True, MS_I_VERSION),
    "nolazytime": (True, MS_LAZYTIME),
    "nomand": (True, MS_MANDLOCK),
    "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW),
    "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "silent": (False, MS_SILENT),
    "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID),
    "symfollow": (True, MS_NOSYMFOLLOW),
    "sync": (False, MS_SYNCHRONOUS),
}

PROPAGATION: dict[str, int] = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}

# option -> (clears?, MOUNT_ATTR_* bit), applied to the whole mount tree (AT_RECURSIVE)
RECURSIVE_ATTRS: dict[str, tuple[bool, int]] = {
    "rro": (False, MOUNT_ATTR_RDONLY),
    "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID),
    "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV),
    "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC),
    "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, MOUNT_ATTR_RELATIME),
    "rnoatime": (False, MOUNT_ATTR_NOATIME),
    "ratime": (True, MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}

_ATIME_MODES = frozenset({"rrelatime", "rnoatime", "rstrictatime"})
EXTENSIONS = frozenset({"tmpcopyup"})
ID_MAPPING = frozenset({"idmap", "ridmap"})

# What `features` reports: everything above, but not idmap/ridmap (not implemented).
SUPPORTED_MOUNT_OPTIONS: frozenset[str] = frozenset(MOUNT_FLAGS) | frozenset(PROPAGATION) | frozenset(
    RECURSIVE_ATTRS
) | EXTENSIONS

# Per-mount flags that a bind mount can change after the fact; the others (sync, dirsync,
# mand, lazytime, iversion, silent) belong to the superblock and mean nothing for a bind.
_PER_MOUNT = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME
_PER_MOUNT |= MS_STRICTATIME | MS_NOSYMFOLLOW


@tuple_record
class MountOptions:
    flags: int = 0  # MS_* bits to set
    cleared: int = 0  # MS_* bits the options explicitly cleared ("rw", "suid", ...)
    propagation: tuple[int, ...] = ()  # applied in order after the mount
    rec_set: int = 0  # MOUNT_ATTR_* set on the whole tree
    rec_clr: int = 0  # MOUNT_ATTR_* cleared on the whole tree
    data: str = ""
    copyup: bool = False

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & MS_BIND)

    @property
    def is_recursive_bind(self) -> bool:
        return self.flags & (MS_BIND | MS_REC) == MS_BIND | MS_REC

    @property
    def readonly(self) -> bool:
        return bool(self.flags & MS_RDONLY)


def parse_mount_options(options: list[str] | tuple[str, ...], where: str = "options") -> MountOptions:
    """Parse one mount's options; `where` is the JSON path used in errors."""
    flags = cleared = rec_set = rec_clr = 0
    propagation: list[int] = []
    data: list[str] = []
    copyup = False
    for index, option in enumerate(options):
        if not isinstance(option, str):
            raise ConfigError(f"{where}[{index}]", f"{option!r} is not a string")
        if option in MOUNT_FLAGS:
            clear, bit = MOUNT_FLAGS[option]
            if clear:
                flags &= ~bit
                cleared |= bit
            else:
                flags |= bit
                cleared &= ~bit
        elif option in PROPAGATION:
            propagation.append(PROPAGATION[option])
        elif option in RECURSIVE_ATTRS:
            clear, bit = RECURSIVE_ATTRS[option]
            if clear:
                rec_clr |= bit
                rec_set &= ~bit
            elif option in _ATIME_MODES:
                # atime is one mode, not bits: the last one named wins, and mount_setattr(2)
                # wants MOUNT_ATTR__ATIME in attr_clr to change it.
                rec_set = (rec_set & ~MOUNT_ATTR__ATIME) | bit
                rec_clr |= MOUNT_ATTR__ATIME
            else:
                rec_set |= bit
                rec_clr &= ~bit
        elif option == "tmpcopyup":
            copyup = True
        elif option in ID_MAPPING:
            raise ConfigError(
                f"{where}[{index}]", f'"{option}": id-mapped mounts are not supported by this runtime'
            )
        else:
            data.append(option)
    return MountOptions(
        flags=flags,
        cleared=cleared,
        propagation=tuple(propagation),
        rec_set=rec_set,
        rec_clr=rec_clr,
        data=",".join(data),
        copyup=copyup,
    )


def bind_attrs(opts: MountOptions) -> tuple[int, int]:
    """The (attr_set, attr_clr) that give a bind mount its per-mount options.

    runc remounts with exactly the given flags, which silently drops flags the source had
    (a `bind,nosuid` of a read-only source comes out writable). mount_setattr changes only
    what the options name, so everything else is kept from the source.
    """
    flags, cleared = opts.flags & _PER_MOUNT, opts.cleared & _PER_MOUNT
    attr_set = attr_clr = 0
    for ms, attr in (
        (MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MS_NODEV, MOUNT_ATTR_NODEV),
        (MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ):
        if flags & ms:
            attr_set |= attr
        elif cleared & ms:
            attr_clr |= attr
    if flags & MS_NOATIME:
        attr_set, attr_clr = attr_set | MOUNT_ATTR_NOATIME, attr_clr | MOUNT_ATTR__ATIME
    elif flags & MS_STRICTATIME:
        attr_set, attr_clr = attr_set | MOUNT_ATTR_STRICTATIME, attr_clr | MOUNT_ATTR__ATIME
    elif flags & MS_RELATIME or cleared & ATIME_FLAGS:
        # relatime, or an atime mode switched off ("atime", "norelatime"...): the kernel's
        # default mode is relatime.
        attr_set, attr_clr = attr_set | MOUNT_ATTR_RELATIME, attr_clr | MOUNT_ATTR__ATIME
    return attr_set, attr_clr


def describe_flags(flags: int) -> str:
    """MS_* flags as option names, for messages ("bind,nosuid,ro")."""
    names = sorted(name for name, (clear, bit) in MOUNT_FLAGS.items()
                   if not clear and bit and bit & (bit - 1) == 0 and flags & bit)
    if flags & MS_REC:
        names.append("rec")
    return ",".join(names) or "0"
