"""ociruntime.linux.fs against the real kernel: confined resolution, fs identity."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from native.support import private_mount_namespace, run_forked
from ociruntime.linux import fs, mounts


@pytest.fixture
def hostile_root(tmp_path: Path) -> Path:
    """A rootfs whose symlinks point out of it, as a malicious image would."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "marker").write_text("inside")
    (tmp_path / "marker").write_text("outside")
    (root / "abs-escape").symlink_to("/etc")  # absolute: host /etc without confinement
    (root / "rel-escape").symlink_to("../..")  # relative: climbs above the root
    (root / "dotdot").symlink_to("../marker")
    return root


def _read(fd: int) -> str:
    try:
        return os.read(fd, 100).decode()
    finally:
        os.close(fd)


def test_in_root_resolves_absolute_symlinks_inside(hostile_root: Path) -> None:
    root_fd = os.open(hostile_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = fs.openat2(root_fd, "abs-escape/marker", os.O_RDONLY, resolve=fs.RESOLVE_IN_ROOT)
        assert _read(fd) == "inside"
        fd = fs.openat2(root_fd, "/etc/marker", os.O_RDONLY, resolve=fs.RESOLVE_IN_ROOT)
        assert _read(fd) == "inside"
    finally:
        os.close(root_fd)


def test_in_root_clamps_dotdot_at_the_root(hostile_root: Path) -> None:
    root_fd = os.open(hostile_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = fs.openat2(root_fd, "rel-escape/etc/marker", os.O_RDONLY, resolve=fs.RESOLVE_IN_ROOT)
        assert _read(fd) == "inside"
        with pytest.raises(FileNotFoundError):  # ../marker is outside: clamped to /marker, absent
            fs.openat2(root_fd, "dotdot", os.O_RDONLY, resolve=fs.RESOLVE_IN_ROOT)
    finally:
        os.close(root_fd)


def test_without_confinement_the_symlink_escapes(hostile_root: Path) -> None:
    # The control: plain resolution follows ../marker out of the root.
    root_fd = os.open(hostile_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        assert _read(fs.openat2(root_fd, "dotdot", os.O_RDONLY)) == "outside"
    finally:
        os.close(root_fd)


def test_beneath_refuses_escapes_with_exdev(hostile_root: Path) -> None:
    root_fd = os.open(hostile_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as info:
            fs.openat2(root_fd, "dotdot", os.O_RDONLY, resolve=fs.RESOLVE_BENEATH)
    finally:
        os.close(root_fd)
    assert info.value.errno == errno.EXDEV
    assert "openat2 dotdot under fd" in str(info.value) and "resolve BENEATH" in str(info.value)


def test_no_symlinks_refuses_any_symlink(hostile_root: Path) -> None:
    root_fd = os.open(hostile_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as info:
            fs.openat2(root_fd, "abs-escape/marker", os.O_RDONLY, resolve=fs.RESOLVE_NO_SYMLINKS)
    finally:
        os.close(root_fd)
    assert info.value.errno == errno.ELOOP


def test_no_magiclinks_refuses_proc_fd_links() -> None:
    with pytest.raises(OSError) as info:
        fs.openat2(fs.AT_FDCWD, "/proc/self/exe", os.O_RDONLY, resolve=fs.RESOLVE_NO_MAGICLINKS)
    assert info.value.errno == errno.ELOOP


def test_openat2_creates_with_mode_and_is_cloexec(tmp_path: Path) -> None:
    dir_fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = fs.openat2(dir_fd, "new", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640, fs.RESOLVE_BENEATH)
    finally:
        os.close(dir_fd)
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        os.close(fd)
    old_umask = os.umask(0)
    os.umask(old_umask)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o640 & ~old_umask


def test_fstatfs_type_tells_procfs_sysfs_and_tmpfs(tmp_path: Path) -> None:
    for path, magic in (("/proc", fs.PROC_SUPER_MAGIC), ("/sys", fs.SYSFS_MAGIC)):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            assert fs.fstatfs_type(fd) == magic
            assert fs.is_fs_type(fd, magic)
        finally:
            os.close(fd)

    target = tmp_path / "t"
    target.mkdir()

    def child() -> tuple[bool, bool]:
        private_mount_namespace()
        mounts.mount("none", str(target), "tmpfs")
        fd = os.open(target, os.O_PATH | os.O_CLOEXEC)
        try:
            return fs.fstatfs_type(fd) == fs.TMPFS_MAGIC, fs.is_fs_type(fd, fs.PROC_SUPER_MAGIC)
        finally:
            os.close(fd)

    assert run_forked(child) == (True, False)


def test_fstatfs_type_spots_a_fake_proc(tmp_path: Path) -> None:
    # A tmpfs bind-mounted over a proc path (CVE-2025-52881 style) is not procfs.
    fake = tmp_path / "fake-sys"
    fake.mkdir()

    def child() -> bool:
        private_mount_namespace()
        mounts.mount("none", str(fake), "tmpfs")
        mounts.mount(str(fake), "/proc/sys", None, mounts.MS_BIND)
        fd = os.open("/proc/sys", os.O_PATH | os.O_CLOEXEC)
        try:
            return fs.fstatfs_type(fd) == fs.PROC_SUPER_MAGIC
        finally:
            os.close(fd)

    assert run_forked(child) is False


def test_fstatfs_type_bad_fd() -> None:
    with pytest.raises(OSError) as info:
        fs.fstatfs_type(-1)
    assert info.value.errno == errno.EBADF
    assert "fstatfs fd -1" in str(info.value)
