"""ociruntime.linux.mounts against the real kernel, in private mount namespaces."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from native.support import mount_at, private_mount_namespace, run_forked
from ociruntime.linux import mounts


def test_mount_tmpfs_shows_in_mountinfo_with_flags_and_data(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()

    def child() -> tuple[str, set[str], set[str]]:
        private_mount_namespace()
        mounts.mount("ocitest", str(target), "tmpfs", mounts.MS_NOSUID | mounts.MS_NODEV, "size=1m,mode=0710")
        entry = mount_at(str(target))
        assert entry is not None
        return entry.fstype, entry.options, entry.super_options

    fstype, options, super_options = run_forked(child)
    assert fstype == "tmpfs"
    assert {"nosuid", "nodev", "rw"} <= options
    assert "size=1024k" in super_options and "mode=710" in super_options
    assert mount_at(str(target)) is None  # never visible on the host


def test_mount_error_names_target_and_errno(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    def child() -> None:
        private_mount_namespace()
        mounts.mount("none", str(missing), "tmpfs")

    with pytest.raises(FileNotFoundError) as info:
        run_forked(child)
    assert info.value.errno == errno.ENOENT
    assert f"on {missing} type tmpfs" in str(info.value)


def test_bind_then_remount_read_only_blocks_writes(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()

    def child() -> int:
        private_mount_namespace()
        mounts.mount(str(source), str(target), None, mounts.MS_BIND)
        mounts.mount(None, str(target), None, mounts.MS_BIND | mounts.MS_REMOUNT | mounts.MS_RDONLY)
        try:
            (target / "f").write_text("x")
        except OSError as err:
            return err.errno
        return 0

    assert run_forked(child) == errno.EROFS
    assert not (source / "f").exists()


def test_umount_removes_the_mount_and_reports_non_mountpoints(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()

    def child() -> bool:
        private_mount_namespace()
        mounts.mount("none", str(target), "tmpfs")
        mounts.umount(str(target), mounts.MNT_DETACH)
        gone = mount_at(str(target)) is None
        mounts.umount(str(target))  # nothing mounted there any more: EINVAL
        return gone

    with pytest.raises(OSError) as info:
        run_forked(child)
    assert info.value.errno == errno.EINVAL
    assert f"umount {target}" in str(info.value)


def test_pivot_root_makes_the_new_root_slash(tmp_path: Path) -> None:
    new_root = tmp_path / "root"
    new_root.mkdir()

    def child() -> tuple[list[str], bool]:
        private_mount_namespace()
        mounts.mount("none", str(new_root), "tmpfs")
        (new_root / "marker").write_text("inside")
        os.chdir(new_root)
        mounts.pivot_root(".", ".")  # the old root is stacked on top of the new one
        mounts.umount(".", mounts.MNT_DETACH)
        os.chdir("/")
        return sorted(os.listdir("/")), Path("/marker").read_text() == "inside"

    listing, marker_ok = run_forked(child)
    assert listing == ["marker"]
    assert marker_ok


def test_pivot_root_error_names_both_paths(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    def child() -> None:
        private_mount_namespace()
        mounts.pivot_root(str(missing), str(tmp_path))

    with pytest.raises(FileNotFoundError) as info:
        run_forked(child)
    assert f"pivot_root {missing} {tmp_path}: No such file or directory" in str(info.value)


def test_mount_setattr_recursive_read_only_reaches_submounts(tmp_path: Path) -> None:
    top, sub = tmp_path / "top", tmp_path / "top" / "sub"

    def child() -> tuple[set[str], set[str], int]:
        private_mount_namespace()
        top.mkdir()
        mounts.mount("none", str(top), "tmpfs")
        sub.mkdir()
        mounts.mount("none", str(sub), "tmpfs")
        mounts.mount_setattr(str(top), mounts.MOUNT_ATTR_RDONLY | mounts.MOUNT_ATTR_NOEXEC, recursive=True)
        top_entry, sub_entry = mount_at(str(top)), mount_at(str(sub))
        assert top_entry is not None and sub_entry is not None
        try:
            (sub / "f").write_text("x")
        except OSError as err:
            return top_entry.options, sub_entry.options, err.errno
        return top_entry.options, sub_entry.options, 0

    top_options, sub_options, write_errno = run_forked(child)
    assert {"ro", "noexec"} <= top_options
    assert {"ro", "noexec"} <= sub_options
    assert write_errno == errno.EROFS


def test_mount_setattr_non_recursive_leaves_submounts(tmp_path: Path) -> None:
    top, sub = tmp_path / "top", tmp_path / "top" / "sub"

    def child() -> tuple[set[str], set[str]]:
        private_mount_namespace()
        top.mkdir()
        mounts.mount("none", str(top), "tmpfs")
        sub.mkdir()
        mounts.mount("none", str(sub), "tmpfs")
        mounts.mount_setattr(str(top), mounts.MOUNT_ATTR_RDONLY)
        top_entry, sub_entry = mount_at(str(top)), mount_at(str(sub))
        assert top_entry is not None and sub_entry is not None
        return top_entry.options, sub_entry.options

    top_options, sub_options = run_forked(child)
    assert "ro" in top_options
    assert "rw" in sub_options


def test_mount_setattr_sets_atime_mode_and_propagation(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()

    def child() -> tuple[set[str], set[str]]:
        private_mount_namespace()
        mounts.mount("none", str(target), "tmpfs")
        mounts.mount_setattr(str(target), mounts.MOUNT_ATTR_NOATIME, propagation=mounts.MS_SHARED)
        entry = mount_at(str(target))
        assert entry is not None
        return entry.options, entry.propagation

    options, propagation = run_forked(child)
    assert "noatime" in options
    assert any(tag.startswith("shared:") for tag in propagation)


def test_mount_setattr_by_fd_with_empty_path(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()

    def child() -> set[str]:
        private_mount_namespace()
        mounts.mount("none", str(target), "tmpfs")
        fd = os.open(target, os.O_PATH | os.O_DIRECTORY)
        try:
            mounts.mount_setattr("", mounts.MOUNT_ATTR_NOSUID, dirfd=fd)
        finally:
            os.close(fd)
        entry = mount_at(str(target))
        assert entry is not None
        return entry.options

    assert "nosuid" in run_forked(child)


def test_mount_setattr_error_has_context(tmp_path: Path) -> None:
    def child() -> None:
        mounts.mount_setattr(str(tmp_path / "missing"), mounts.MOUNT_ATTR_RDONLY)

    with pytest.raises(FileNotFoundError) as info:
        run_forked(child)
    assert "mount_setattr" in str(info.value) and "missing" in str(info.value)


def test_open_tree_clone_and_move_mount_attach_a_copy(tmp_path: Path) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()
    (source / "file").write_text("hello")

    def child() -> tuple[str, str]:
        private_mount_namespace()
        tree = mounts.open_tree(str(source))
        try:
            mounts.mount_setattr("", mounts.MOUNT_ATTR_RDONLY, dirfd=tree)
            mounts.move_mount(tree, "", mounts.AT_FDCWD, str(target))
        finally:
            os.close(tree)
        entry = mount_at(str(target))
        assert entry is not None
        return (target / "file").read_text(), ",".join(sorted(entry.options))

    content, options = run_forked(child)
    assert content == "hello"
    assert "ro" in options.split(",")


def test_constants_match_the_kernel_abi() -> None:
    # Values from <linux/mount.h>: the facade must expose the kernel's numbers.
    assert (mounts.MS_RDONLY, mounts.MS_BIND, mounts.MS_REC, mounts.MS_PRIVATE) == (1, 4096, 16384, 1 << 18)
    assert mounts.MS_NOSYMFOLLOW == 256
    assert (mounts.MNT_DETACH, mounts.UMOUNT_NOFOLLOW) == (2, 8)
    assert (mounts.MOUNT_ATTR_RDONLY, mounts.MOUNT_ATTR_IDMAP, mounts.MOUNT_ATTR__ATIME) == (1, 0x100000, 0x70)
