"""tmpcopyup: copy what a directory held into the tmpfs just mounted over it.

The source is an fd opened on the directory before the mount, so it still reaches the
hidden content; every step is *at() relative to fds, never following symlinks.
"""

from __future__ import annotations

import os
import stat

from ociruntime.rootfs.resolve import ProcSelf

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def copy_tree(src_dir_fd: int, proc: ProcSelf, dst_mount_fd: int) -> None:
    """Copy the tree under src_dir_fd into the directory dst_mount_fd (O_PATH) is on."""
    dst = os.open(f"fd/{dst_mount_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=proc.fd)
    try:
        _copy_dir(src_dir_fd, dst)
    finally:
        os.close(dst)


def _copy_dir(src: int, dst: int) -> None:
    for name in os.listdir(src):
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            child_src = os.open(name, _DIR, dir_fd=src)
            child_dst = os.open(name, _DIR, dir_fd=dst)
            try:
                _copy_dir(child_src, child_dst)
                _own(child_dst, st)
            finally:
                os.close(child_src)
                os.close(child_dst)
        elif stat.S_ISREG(mode):
            _copy_file(src, dst, name, st)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            # Just made in our fresh tmpfs: nothing can have swapped it for a symlink.
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst)
        # sockets are not copied: they mean nothing without their listener


def _copy_file(src: int, dst: int, name: str, st: os.stat_result) -> None:
    infd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
    try:
        outfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                        dir_fd=dst)
        try:
            while os.sendfile(outfd, infd, None, 1 << 20):
                pass
            _own(outfd, st)
        finally:
            os.close(outfd)
    finally:
        os.close(infd)


def _own(fd: int, st: os.stat_result) -> None:
    """Owner first, then mode: chown clears set-id bits."""
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
