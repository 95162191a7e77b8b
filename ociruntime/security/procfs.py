"""Writes to /proc files that cannot be redirected (CVE-2025-52881 class).

A container's mounts (or a racing process) can put a symlink or a bind mount where the
runtime expects /proc/self/attr/exec or /proc/self/oom_score_adj, turning our write into
a write to some other file. So: open /proc itself and check it is procfs, resolve the
rest below it with openat2(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS) so no mount point
(bind mount) and no magic link can be crossed, and check the opened file is procfs too.
"""

from __future__ import annotations

import errno
import os

from ociruntime.errors import OciError


class ProcfsError(OciError):
    """A /proc path the runtime writes to is not what it must be."""

    code = "security.procfs"


def open_proc_file(relative: str, flags: int, *, proc_root: str = "/proc") -> int:
    """An fd for proc_root/relative (e.g. "thread-self/attr/exec"), verified to be procfs.

    OSError from the kernel propagates (ENOENT for a file this kernel lacks, ...).
    """
    from ociruntime.linux import fs

    root = os.open(proc_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        if fs.fstatfs_type(root) != fs.PROC_SUPER_MAGIC:
            raise ProcfsError(f"refusing to write {proc_root}/{relative}: {proc_root} is not a procfs mount")
        fd = fs.openat2(root, relative, flags | os.O_NOFOLLOW,
                        resolve=fs.RESOLVE_NO_XDEV | fs.RESOLVE_NO_MAGICLINKS)
    finally:
        os.close(root)
    if fs.fstatfs_type(fd) != fs.PROC_SUPER_MAGIC:
        os.close(fd)
        raise ProcfsError(f"refusing to write {proc_root}/{relative}: it is not on procfs")
    return fd


def write_proc_file(relative: str, data: bytes, *, proc_root: str = "/proc") -> None:
    """Write data to proc_root/relative in one write(2), through a verified fd."""
    fd = open_proc_file(relative, os.O_WRONLY, proc_root=proc_root)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(errno.EIO, f"short write to {proc_root}/{relative} ({written} of {len(data)} bytes)")
