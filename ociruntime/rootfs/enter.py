"""enter_rootfs: make the prepared tree the process's "/".

pivot_root(".", ".") then a lazy unmount of the old root (runc's pivotRoot), or with
--no-pivot: hide the host's procfs/sysfs, MS_MOVE the rootfs onto "/" and chroot (runc's
msMoveRoot); without a mount namespace: chroot only. Afterwards only the container's
file systems are reachable by path.
"""

from __future__ import annotations

import errno
import os
import stat

from ociruntime.linux import mounts
from ociruntime.rootfs.cgroupfs import parse_mountinfo
from ociruntime.rootfs.errors import setup_error
from ociruntime.rootfs.options import MS_MOVE, MS_REC, MS_SLAVE
from ociruntime.rootfs.plan import RootfsPlan

_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def enter_rootfs(plan: RootfsPlan) -> None:
    root = plan.state.root_fd
    try:
        if plan.mount_ns == "host":
            os.fchdir(root)
            os.chroot(".")
        elif plan.no_pivot:
            _move_root(plan, root)
        else:
            _pivot_root(root)
        os.chdir("/")
    except OSError as err:
        how = "chroot" if plan.mount_ns == "host" else ("move" if plan.no_pivot else "pivot_root")
        raise setup_error("root.path", f"{how} into {plan.rootfs}", err) from None
    if plan.setup_dev:
        _reopen_dev_null()


def _pivot_root(root: int) -> None:
    old_root = os.open("/", _PATH_DIR)
    try:
        os.fchdir(root)
        mounts.pivot_root(".", ".")
        # The old root is now stacked under the new one, at ".": detach it. rslave first so
        # the unmount does not propagate to the host.
        os.fchdir(old_root)
        mounts.mount(None, ".", None, MS_SLAVE | MS_REC)
        mounts.umount(".", mounts.MNT_DETACH)
    finally:
        os.close(old_root)


def _move_root(plan: RootfsPlan, root: int) -> None:
    """chroot keeps the host's mounts in the namespace; the kernel then still counts the
    host's full procfs/sysfs as visible (and allows mounting new ones), so detach them,
    or cover them with an empty tmpfs where that is not allowed."""
    fd = os.open("mountinfo", os.O_RDONLY | os.O_CLOEXEC, dir_fd=plan.state.proc.fd)
    try:
        text = os.read(fd, 1 << 20).decode()
    finally:
        os.close(fd)
    inside = plan.rootfs.rstrip("/") + "/"
    for entry in parse_mountinfo(text):
        if entry.fstype not in ("proc", "sysfs") or entry.root != "/":
            continue
        if entry.mount_point == plan.rootfs or entry.mount_point.startswith(inside):
            continue
        try:
            mounts.umount(entry.mount_point, mounts.MNT_DETACH)
        except OSError as err:
            if err.errno == errno.ENOENT:
                continue
            if err.errno not in (errno.EINVAL, errno.EPERM):
                raise
            try:
                mounts.mount("tmpfs", entry.mount_point, "tmpfs", 0)
            except FileNotFoundError:
                continue
    os.fchdir(root)
    mounts.mount(".", "/", None, MS_MOVE)
    os.chroot(".")


def _reopen_dev_null() -> None:
    """stdio on the host's /dev/null is switched to the container's (runc does this)."""
    try:
        null = os.open("/dev/null", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        st = os.fstat(null)
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
            return
        for fd in (0, 1, 2):
            try:
                current = os.fstat(fd)
            except OSError:
                continue
            if stat.S_ISCHR(current.st_mode) and current.st_rdev == st.st_rdev and current.st_ino != st.st_ino:
                os.dup2(null, fd)
    finally:
        os.close(null)
