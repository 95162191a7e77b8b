"""finalize_rootfs: after pivot_root, the read-only and masking steps (runc's order).

1. readonlyPaths: a recursive bind of the path onto itself, made read-only as a whole
   (mount_setattr keeps nosuid/nodev/noexec and every other flag it had).
2. maskedPaths: directories get an empty read-only tmpfs; everything else gets the
   container's /dev/null bound over it, and that /dev/null is first checked to be the
   real null device (char 1:3) reached without symlinks (CVE-2025-31133: a /dev/null
   swapped for a symlink to a procfs file would mount that file instead).
3. tmpfs and /dev mounts that asked for "ro", then root.readonly (only "/" itself, as
   runc), then linux.rootfsPropagation on "/".
Paths are resolved inside "/" without magic links; mounts go onto fds.
"""

from __future__ import annotations

import os
import stat

from ociruntime.errors import KernelError
from ociruntime.linux import mounts
from ociruntime.rootfs.errors import setup_error
from ociruntime.rootfs.options import MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY
from ociruntime.rootfs.plan import RootfsPlan
from ociruntime.rootfs.resolve import ProcSelf, close_fds, open_in_root

_MASK_TMPFS_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
_NULL_DEVICE = os.makedev(1, 3)


def finalize_rootfs(plan: RootfsPlan) -> None:
    state = plan.state
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, path in enumerate(plan.readonly_paths):
            _readonly_path(root, path, f"linux.readonlyPaths[{index}]")
        if plan.masked_paths:
            _mask_paths(plan, root, state.proc)
        for field, fd in state.readonly_later:
            try:
                mounts.mount_setattr("", mounts.MOUNT_ATTR_RDONLY, dirfd=fd)
            except OSError as err:
                raise setup_error(field, "make the mount read-only", err) from None
        if plan.readonly:
            try:
                mounts.mount_setattr("", mounts.MOUNT_ATTR_RDONLY, dirfd=root)
            except OSError as err:
                raise setup_error("root.readonly", "make / read-only", err) from None
        if plan.root_propagation:
            try:
                mounts.mount(None, "/", None, plan.root_propagation)
            except OSError as err:
                raise setup_error("linux.rootfsPropagation", "set the propagation of /", err) from None
    finally:
        os.close(root)
        release(plan)
    os.chdir("/")


def release(plan: RootfsPlan) -> None:
    """Close every handle the set-up kept (also safe after a failure, and twice)."""
    state = plan.state
    close_fds(*(fd for _, fd in state.readonly_later))
    state.readonly_later = []
    if state.root_fd >= 0:
        os.close(state.root_fd)
        state.root_fd = -1
    if state.proc is not None:
        state.proc.close()
        state.proc = None


def _readonly_path(root: int, path: str, field: str) -> None:
    try:
        target = open_in_root(root, path)
    except FileNotFoundError:
        return  # nothing there: nothing to protect (runc ignores it too)
    except OSError as err:
        raise setup_error(field, f"open {path}", err) from None
    tree = -1
    try:
        flags = mounts.OPEN_TREE_CLONE | mounts.OPEN_TREE_CLOEXEC | mounts.AT_RECURSIVE
        tree = mounts.open_tree("", flags, dirfd=target)
        mounts.mount_setattr("", mounts.MOUNT_ATTR_RDONLY, recursive=True, dirfd=tree)
        mounts.move_mount(tree, "", target, "")
    except OSError as err:
        raise setup_error(field, f"make {path} read-only", err) from None
    finally:
        close_fds(tree, target)


def _mask_paths(plan: RootfsPlan, root: int, proc: ProcSelf) -> None:
    null = _open_null_device(root)
    try:
        for index, path in enumerate(plan.masked_paths):
            field = f"linux.maskedPaths[{index}]"
            try:
                _mask(root, null, proc, path)
            except OSError as err:
                raise setup_error(field, f"mask {path}", err) from None
    finally:
        os.close(null)


def _open_null_device(root: int) -> int:
    try:
        null = open_in_root(root, "/dev/null", no_symlinks=True)
    except OSError as err:
        raise setup_error("linux.maskedPaths", "open /dev/null to mask files with", err) from None
    st = os.fstat(null)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != _NULL_DEVICE:
        os.close(null)
        raise KernelError(
            "config.json: linux.maskedPaths: /dev/null in the container is not the null device "
            "(char 1:3); refusing to mask files with it",
            0,
        )
    return null


def _mask(root: int, null: int, proc: ProcSelf, path: str) -> None:
    try:
        target = open_in_root(root, path)
    except FileNotFoundError:
        return
    tree = -1
    try:
        if stat.S_ISDIR(os.fstat(target).st_mode):
            proc.mount("tmpfs", target, "tmpfs", _MASK_TMPFS_FLAGS)
        else:
            tree = mounts.open_tree("", mounts.OPEN_TREE_CLONE | mounts.OPEN_TREE_CLOEXEC, dirfd=null)
            mounts.move_mount(tree, "", target, "")
    finally:
        close_fds(tree, target)
