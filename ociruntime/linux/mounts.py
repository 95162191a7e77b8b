"""mount(2), umount2(2), pivot_root(2) and the new mount API (mount_setattr,
open_tree, move_mount)."""

from __future__ import annotations

from ociruntime.linux._lib import check, fsencode, lib, optional_cstr

# mount(2) flags
MS_RDONLY: int = lib.MS_RDONLY
MS_NOSUID: int = lib.MS_NOSUID
MS_NODEV: int = lib.MS_NODEV
MS_NOEXEC: int = lib.MS_NOEXEC
MS_SYNCHRONOUS: int = lib.MS_SYNCHRONOUS
MS_REMOUNT: int = lib.MS_REMOUNT
MS_MANDLOCK: int = lib.MS_MANDLOCK
MS_DIRSYNC: int = lib.MS_DIRSYNC
MS_NOSYMFOLLOW: int = lib.MS_NOSYMFOLLOW
MS_NOATIME: int = lib.MS_NOATIME
MS_NODIRATIME: int = lib.MS_NODIRATIME
MS_BIND: int = lib.MS_BIND
MS_MOVE: int = lib.MS_MOVE
MS_REC: int = lib.MS_REC
MS_SILENT: int = lib.MS_SILENT
MS_POSIXACL: int = lib.MS_POSIXACL
MS_UNBINDABLE: int = lib.MS_UNBINDABLE
MS_PRIVATE: int = lib.MS_PRIVATE
MS_SLAVE: int = lib.MS_SLAVE
MS_SHARED: int = lib.MS_SHARED
MS_RELATIME: int = lib.MS_RELATIME
MS_STRICTATIME: int = lib.MS_STRICTATIME
MS_LAZYTIME: int = lib.MS_LAZYTIME
PROPAGATION_FLAGS: int = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE

# umount2(2) flags
MNT_FORCE: int = lib.MNT_FORCE
MNT_DETACH: int = lib.MNT_DETACH
MNT_EXPIRE: int = lib.MNT_EXPIRE
UMOUNT_NOFOLLOW: int = lib.UMOUNT_NOFOLLOW

# mount_setattr(2) attributes
MOUNT_ATTR_RDONLY: int = lib.MOUNT_ATTR_RDONLY
MOUNT_ATTR_NOSUID: int = lib.MOUNT_ATTR_NOSUID
MOUNT_ATTR_NODEV: int = lib.MOUNT_ATTR_NODEV
MOUNT_ATTR_NOEXEC: int = lib.MOUNT_ATTR_NOEXEC
MOUNT_ATTR__ATIME: int = lib.MOUNT_ATTR__ATIME
MOUNT_ATTR_RELATIME: int = lib.MOUNT_ATTR_RELATIME
MOUNT_ATTR_NOATIME: int = lib.MOUNT_ATTR_NOATIME
MOUNT_ATTR_STRICTATIME: int = lib.MOUNT_ATTR_STRICTATIME
MOUNT_ATTR_NODIRATIME: int = lib.MOUNT_ATTR_NODIRATIME
MOUNT_ATTR_NOSYMFOLLOW: int = lib.MOUNT_ATTR_NOSYMFOLLOW
MOUNT_ATTR_IDMAP: int = lib.MOUNT_ATTR_IDMAP

# open_tree(2) / move_mount(2) / *at() flags
OPEN_TREE_CLONE: int = lib.OPEN_TREE_CLONE
OPEN_TREE_CLOEXEC: int = lib.OPEN_TREE_CLOEXEC
MOVE_MOUNT_F_SYMLINKS: int = lib.MOVE_MOUNT_F_SYMLINKS
MOVE_MOUNT_F_AUTOMOUNTS: int = lib.MOVE_MOUNT_F_AUTOMOUNTS
MOVE_MOUNT_F_EMPTY_PATH: int = lib.MOVE_MOUNT_F_EMPTY_PATH
MOVE_MOUNT_T_SYMLINKS: int = lib.MOVE_MOUNT_T_SYMLINKS
MOVE_MOUNT_T_AUTOMOUNTS: int = lib.MOVE_MOUNT_T_AUTOMOUNTS
MOVE_MOUNT_T_EMPTY_PATH: int = lib.MOVE_MOUNT_T_EMPTY_PATH
AT_FDCWD: int = lib.AT_FDCWD
AT_RECURSIVE: int = lib.AT_RECURSIVE
AT_EMPTY_PATH: int = lib.AT_EMPTY_PATH
AT_SYMLINK_NOFOLLOW: int = lib.AT_SYMLINK_NOFOLLOW
AT_NO_AUTOMOUNT: int = lib.AT_NO_AUTOMOUNT


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2). Raises OSError naming source, target, type and flags."""
    ret = lib.ocr_mount(
        optional_cstr(source, "mount source"),
        fsencode(target, "mount target"),
        optional_cstr(fstype, "mount fstype"),
        flags,
        optional_cstr(data, "mount data"),
    )
    if ret < 0:
        detail = f" ({data})" if data else ""
        check(ret, f"mount {source or 'none'} on {target} type {fstype or 'none'} flags {flags:#x}{detail}")


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    ret = lib.ocr_umount(fsencode(target, "umount target"), flags)
    if ret < 0:
        check(ret, f"umount {target} flags {flags:#x}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2); pass "." for both to stack the old root on the new one."""
    ret = lib.ocr_pivot_root(fsencode(new_root, "pivot_root new_root"), fsencode(put_old, "pivot_root put_old"))
    if ret < 0:
        check(ret, f"pivot_root {new_root} {put_old}")


def mount_setattr(
    path: str,
    attr_set: int,
    attr_clr: int = 0,
    propagation: int = 0,
    recursive: bool = False,
    dirfd: int = AT_FDCWD,
    *,
    userns_fd: int = -1,
    follow_symlinks: bool = True,
) -> None:
    """mount_setattr(2) on the mount at dirfd/path ("" means dirfd itself).

    recursive applies it to the whole subtree (e.g. recursive read-only "rro").
    Setting an atime mode needs MOUNT_ATTR__ATIME in attr_clr (mount_setattr(2)):
    it is added here for NOATIME/STRICTATIME; RELATIME is 0, so for it pass
    attr_clr=MOUNT_ATTR__ATIME yourself. userns_fd goes with
    MOUNT_ATTR_IDMAP on a detached mount from open_tree().
    """
    flags = 0
    if recursive:
        flags |= AT_RECURSIVE
    if path == "":
        flags |= AT_EMPTY_PATH
    if not follow_symlinks:
        flags |= AT_SYMLINK_NOFOLLOW
    if attr_set & MOUNT_ATTR__ATIME:
        attr_clr |= MOUNT_ATTR__ATIME
    ret = lib.ocr_mount_setattr(
        dirfd, fsencode(path, "mount_setattr path"), flags, attr_set, attr_clr, propagation, userns_fd
    )
    if ret < 0:
        where = path if dirfd == AT_FDCWD else f"fd {dirfd}/{path}"
        check(
            ret,
            f"mount_setattr {where} set {attr_set:#x} clear {attr_clr:#x} propagation {propagation:#x}"
            f"{' recursive' if recursive else ''}",
        )


def open_tree(path: str, flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, dirfd: int = AT_FDCWD) -> int:
    """open_tree(2): an fd for the mount at path, or a detached copy with OPEN_TREE_CLONE."""
    if path == "":
        flags |= AT_EMPTY_PATH
    ret = lib.ocr_open_tree(dirfd, fsencode(path, "open_tree path"), flags)
    return check(ret, f"open_tree {path} flags {flags:#x}")


def move_mount(
    from_dirfd: int,
    from_path: str,
    to_dirfd: int,
    to_path: str,
    flags: int = 0,
) -> None:
    """move_mount(2); an empty from_path means from_dirfd itself (as from open_tree)."""
    if from_path == "":
        flags |= MOVE_MOUNT_F_EMPTY_PATH
    if to_path == "":
        flags |= MOVE_MOUNT_T_EMPTY_PATH
    ret = lib.ocr_move_mount(
        from_dirfd, fsencode(from_path, "move_mount from"), to_dirfd, fsencode(to_path, "move_mount to"), flags
    )
    if ret < 0:
        check(ret, f"move_mount fd {from_dirfd}/{from_path} to fd {to_dirfd}/{to_path} flags {flags:#x}")
