"""openat2(2) for path resolution confined to a root, and fstatfs(2) to check
which file system an fd is on (a real procfs/sysfs, not something planted)."""

from __future__ import annotations

import os

from ociruntime.linux._lib import check, ffi, fsencode, lib

RESOLVE_NO_XDEV: int = lib.RESOLVE_NO_XDEV
RESOLVE_NO_MAGICLINKS: int = lib.RESOLVE_NO_MAGICLINKS
RESOLVE_NO_SYMLINKS: int = lib.RESOLVE_NO_SYMLINKS
RESOLVE_BENEATH: int = lib.RESOLVE_BENEATH
RESOLVE_IN_ROOT: int = lib.RESOLVE_IN_ROOT
RESOLVE_CACHED: int = lib.RESOLVE_CACHED

PROC_SUPER_MAGIC: int = lib.PROC_SUPER_MAGIC
SYSFS_MAGIC: int = lib.SYSFS_MAGIC
TMPFS_MAGIC: int = lib.TMPFS_MAGIC
DEVPTS_SUPER_MAGIC: int = lib.DEVPTS_SUPER_MAGIC
CGROUP_SUPER_MAGIC: int = lib.CGROUP_SUPER_MAGIC
CGROUP2_SUPER_MAGIC: int = lib.CGROUP2_SUPER_MAGIC

AT_FDCWD: int = lib.AT_FDCWD

_RESOLVE_NAMES = {
    RESOLVE_NO_XDEV: "NO_XDEV",
    RESOLVE_NO_MAGICLINKS: "NO_MAGICLINKS",
    RESOLVE_NO_SYMLINKS: "NO_SYMLINKS",
    RESOLVE_BENEATH: "BENEATH",
    RESOLVE_IN_ROOT: "IN_ROOT",
    RESOLVE_CACHED: "CACHED",
}


def _describe_resolve(resolve: int) -> str:
    return "|".join(name for bit, name in _RESOLVE_NAMES.items() if resolve & bit) or "0"


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2). The fd is always O_CLOEXEC (no runtime fd may leak into a container).

    With RESOLVE_IN_ROOT, path (even absolute, even through "..", even through
    symlinks in it) is resolved as if dirfd were "/", so it cannot leave dirfd.
    """
    flags |= os.O_CLOEXEC
    ret = lib.ocr_openat2(dirfd, fsencode(path, "openat2 path"), flags, mode, resolve)
    where = path if dirfd == AT_FDCWD else f"{path} under fd {dirfd}"
    return check(ret, f"openat2 {where} flags {flags:#o} resolve {_describe_resolve(resolve)}")


def fstatfs_type(fd: int) -> int:
    """f_type of the file system fd lives on (compare with *_MAGIC)."""
    out = ffi.new("int64_t *")
    check(lib.ocr_fstatfs_type(fd, out), f"fstatfs fd {fd}")
    return out[0] & 0xFFFFFFFF


def is_fs_type(fd: int, magic: int) -> bool:
    """True if fd is on a file system of type magic (e.g. PROC_SUPER_MAGIC)."""
    return fstatfs_type(fd) == magic
