"""Paths inside the container's root, resolved by the kernel so they cannot leave it, and
a procfs handle that turns fds back into paths mount(2) can take.

Every lookup of a container path goes through openat2(RESOLVE_IN_ROOT): "..", absolute
symlinks and ".." in symlinks all stay under the root fd (a symlink /mnt/x -> /etc in the
image means the image's /etc, never the host's). Magic links (/proc/self/root, ...) are
refused. What gets mounted on is then named by fd, never by re-resolving a path, so a
rootfs changed underneath us (a shared volume) cannot redirect a mount.
"""

from __future__ import annotations

import errno
import os

from ociruntime.errors import KernelError
from ociruntime.linux import fs, mounts

SCOPED = fs.RESOLVE_IN_ROOT | fs.RESOLVE_NO_MAGICLINKS
_PATH_DIR = os.O_PATH | os.O_DIRECTORY


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, *, no_symlinks: bool = False) -> int:
    """openat2 of a container path under root_fd (always O_CLOEXEC)."""
    resolve = SCOPED | (fs.RESOLVE_NO_SYMLINKS if no_symlinks else 0)
    return fs.openat2(root_fd, path, flags, 0, resolve)


def mkdirs_in_root(root_fd: int, path: str, mode: int = 0o755, *, no_symlinks: bool = False,
                   _hops: int = 0) -> int:
    """O_PATH fd of directory `path` under root_fd, creating what is missing (like mkdir -p,
    every step resolved inside the root). A dangling symlink on the way is followed inside
    the root and its target created, as runc's securejoin does (an absolute link to a host
    path means that path under the root, never the host's)."""
    try:
        return open_in_root(root_fd, path, _PATH_DIR, no_symlinks=no_symlinks)
    except FileNotFoundError:
        pass
    parts = [p for p in path.split("/") if p]
    current = os.dup(root_fd)
    try:
        for depth, name in enumerate(parts):
            prefix = "/".join(parts[: depth + 1])
            try:
                child = open_in_root(root_fd, prefix, _PATH_DIR, no_symlinks=no_symlinks)
            except FileNotFoundError:
                link = _dangling_link(current, name) if not no_symlinks else None
                if link is not None:
                    if _hops >= 40:
                        raise OSError(errno.ELOOP, f"/{prefix}: too many levels of symbolic links") from None
                    parent = "/".join(parts[:depth])
                    target = link if link.startswith("/") else f"/{parent}/{link}"
                    rest = "/".join(parts[depth + 1:])
                    return mkdirs_in_root(root_fd, f"{target}/{rest}" if rest else target, mode,
                                          _hops=_hops + 1)
                child = _mkdir_at(current, name, mode, prefix)
            os.close(current)
            current = child
        found, current = current, -1
        return found
    finally:
        if current >= 0:
            os.close(current)


def _dangling_link(parent_fd: int, name: str) -> str | None:
    try:
        return os.readlink(name, dir_fd=parent_fd)
    except OSError:
        return None


def _mkdir_at(parent_fd: int, name: str, mode: int, shown: str) -> int:
    try:
        os.mkdir(name, mode, dir_fd=parent_fd)
    except FileExistsError:
        # It exists, yet resolving it said ENOENT: a dangling symlink. Refuse rather than
        # guess where it "should" point.
        raise FileNotFoundError(errno.ENOENT, f"/{shown} is a dangling symlink") from None
    # Just created; re-open the one component without following anything, so a racing
    # swap for a symlink fails instead of leading elsewhere.
    return fs.openat2(parent_fd, name, _PATH_DIR, 0, fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS)


def ensure_target(root_fd: int, path: str, *, directory: bool, no_symlinks: bool = False) -> int:
    """O_PATH fd of a mount target, created if missing: a directory (mode 0755) or an empty
    file (mode 0644), with its parents."""
    try:
        return open_in_root(root_fd, path, no_symlinks=no_symlinks)
    except FileNotFoundError:
        pass
    if directory:
        return mkdirs_in_root(root_fd, path, no_symlinks=no_symlinks)
    parent_path, name = os.path.split(path)
    parent = mkdirs_in_root(root_fd, parent_path, no_symlinks=no_symlinks)
    try:
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=parent)
            os.close(fd)
        except FileExistsError:
            pass
        return fs.openat2(parent, name, os.O_PATH, 0, fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS)
    finally:
        os.close(parent)


class ProcSelf:
    """O_PATH handle on /proc/<our pid> of a verified procfs.

    mount(2) takes paths; "fd/N" under this handle is the magic link to exactly the file
    fd N is open on, so mounting "on fd N" never re-resolves a container path. The handle
    is opened on the host's /proc before pivot_root and stays usable after it (also when
    the container has no /proc), until close().
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def open(cls, proc: str = "/proc") -> ProcSelf:
        fd = os.open(f"{proc}/self", _PATH_DIR | os.O_CLOEXEC)
        if not fs.is_fs_type(fd, fs.PROC_SUPER_MAGIC):
            os.close(fd)
            raise KernelError(f"{proc} is not a procfs mount", 0)
        return cls(fd)

    def _inside(self) -> _CwdAt:
        return _CwdAt(self.fd)

    def mount(self, source: str | None, target_fd: int, fstype: str | None, flags: int = 0,
              data: str | None = None, *, source_fd: int | None = None) -> None:
        """mount(2) onto the file target_fd is open on (source_fd likewise for the source)."""
        if source_fd is not None:
            source = f"fd/{source_fd}"
        with self._inside():
            mounts.mount(source, f"fd/{target_fd}", fstype, flags, data)

    def mount_id(self, fd: int) -> int:
        """The id of the mount fd is on (/proc/<pid>/fdinfo "mnt_id")."""
        info = os.open(f"fdinfo/{fd}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            text = os.read(info, 4096).decode()
        finally:
            os.close(info)
        for line in text.splitlines():
            if line.startswith("mnt_id:"):
                return int(line.split()[1])
        raise KernelError(f"no mnt_id in fdinfo of fd {fd}", 0)

    def chmod(self, fd: int, mode: int) -> None:
        os.chmod(f"fd/{fd}", mode, dir_fd=self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def reopen_new_mount(proc: ProcSelf, root_fd: int, path: str, below_fd: int, *, no_symlinks: bool = False) -> int:
    """After mounting on below_fd (which still names the directory underneath), an O_PATH
    fd on the new mount at `path`. Re-resolving is the only way to reach it with mount(2);
    the mount id check makes sure something new was found there."""
    fd = open_in_root(root_fd, path, no_symlinks=no_symlinks)
    if proc.mount_id(fd) == proc.mount_id(below_fd):
        os.close(fd)
        raise KernelError(f"{path}: the new mount is not where it was mounted (the rootfs changed under us?)", 0)
    return fd


def close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


class _CwdAt:
    """`with _CwdAt(fd):` runs the block with fd as the cwd, then restores the old cwd
    (a class, not contextlib.contextmanager: contextlib costs ~2 ms in every stage 1)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.previous = -1

    def __enter__(self) -> None:
        self.previous = os.open(".", _PATH_DIR | os.O_CLOEXEC)
        try:
            os.fchdir(self.fd)
        except BaseException:
            os.close(self.previous)
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            os.fchdir(self.previous)
        finally:
            os.close(self.previous)
