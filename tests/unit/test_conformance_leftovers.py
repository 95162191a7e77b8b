"""What the conformance harness counts as a test's leftover, and how it removes bundles."""

from __future__ import annotations

from pathlib import Path

from conformance.leftovers import _is_suite_cgroup, _remove_tree_on_one_fs, _unescape

UUID = "0b9f3c0e-6a4f-4c53-9d6e-3f1f2b7d9a10"


def test_suite_cgroups_are_recognised_by_name_or_container_id() -> None:
    root = "/sys/fs/cgroup/memory"
    assert _is_suite_cgroup(f"{root}/cgrouptest", root, set())
    assert _is_suite_cgroup(f"{root}/process_api/abc/testdir/cgrouptest/container", root, set())
    assert _is_suite_cgroup(f"{root}/ociruntime/{UUID}", root, set())
    assert _is_suite_cgroup(f"{root}/my-container", root, {"my-container"})


def test_other_new_cgroups_are_not_ours() -> None:
    root = "/sys/fs/cgroup/cpu"
    assert not _is_suite_cgroup(f"{root}/octfddcaf-kill_delivers_the_named_-42", root, set())
    assert not _is_suite_cgroup(f"{root}/process_api/0123456789abcdef0123456789abcdef", root, set())


def test_mountinfo_octal_escapes_are_decoded() -> None:
    assert _unescape(r"/tmp/ocitest1\040with\040space") == "/tmp/ocitest1 with space"


def test_bundle_removal_removes_files_dirs_and_symlinks_without_following_them(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    bundle = tmp_path / "ocitest123"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    (bundle / "config.json").write_text("{}")
    (bundle / "rootfs" / "bin" / "sh").write_text("#!")
    (bundle / "rootfs" / "link-out").symlink_to(outside)
    assert _remove_tree_on_one_fs(str(bundle))
    assert not bundle.exists()
    assert (outside / "keep").exists()


def test_bundle_removal_of_a_missing_dir_is_done(tmp_path: Path) -> None:
    assert _remove_tree_on_one_fs(str(tmp_path / "gone"))
