"""Undo what a container without a mount namespace left in the runtime's namespace.

Design: such a container gets its rootfs as one private mount at
<host_mount_dir>/rootfs (the container's state dir, owned by the runtime), and everything
mounted for it (proc, /dev, masks, ...) hangs off that mount. Delete detaches that one
mount point (MNT_DETACH takes the whole subtree) and removes the empty directory. Nothing
is ever mounted on the bundle, so the bundle is never left with mounts (runc leaves
proc/dev/sys there, runtime-tools linux_ns_itype), and a crash at any point is cleaned
the same way, since the mount point's name is known from the state dir alone.
"""

from __future__ import annotations

import os

from ociruntime.errors import KernelError
from ociruntime.rootfs.plan import RootfsPlan, host_rootfs_mountpoint


def cleanup_host_side(plan: RootfsPlan) -> None:
    if plan.mount_ns == "host" and plan.host_mount_dir is not None:
        cleanup_host_mounts(plan.host_mount_dir)


def cleanup_host_mounts(host_mount_dir: str) -> None:
    """Detach <host_mount_dir>/rootfs (however many times it is mounted) and remove the
    directory. A no-op when there is nothing; raises if a mount stays, so that a caller
    never deletes the state dir through a live mount of the container's rootfs."""
    mount_point = host_rootfs_mountpoint(host_mount_dir)
    if not os.path.lexists(mount_point):
        return
    attempts = 0
    while _is_mount_point(mount_point):
        from ociruntime.linux import mounts

        attempts += 1
        if attempts > 64:
            raise KernelError(f"{mount_point} is still mounted after 64 unmounts", 0)
        try:
            mounts.umount(mount_point, mounts.MNT_DETACH | mounts.UMOUNT_NOFOLLOW)
        except OSError as err:
            raise KernelError(f"unmount {mount_point}: {err.strerror}", err.errno or 0) from None
    try:
        os.rmdir(mount_point)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise KernelError(f"remove {mount_point}: {err.strerror}", err.errno or 0) from None


def _is_mount_point(path: str) -> bool:
    """Exactly at path, per /proc/self/mountinfo (st_dev cannot tell a bind of the same
    file system from a plain directory)."""
    from ociruntime.rootfs.cgroupfs import parse_mountinfo

    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        entries = parse_mountinfo(f.read())
    return any(entry.mount_point == path for entry in entries)
