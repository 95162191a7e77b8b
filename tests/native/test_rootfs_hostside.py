"""A container without a mount namespace: its mounts hang off one runtime-owned mount
point, nothing lands on the bundle, and cleanup removes every one of them.

The "host" here is a private mount namespace made by the test (so a bug cannot touch the
real host); the container init is forked inside it and does not unshare.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from native.support import mountinfo, private_mount_namespace, run_forked
from native.test_rootfs_setup import config, host_mounts_guard, make_bundle
from ociruntime.errors import UnsupportedError
from ociruntime.rootfs import (
    cleanup_host_mounts,
    cleanup_host_side,
    enter_rootfs,
    finalize_rootfs,
    plan_rootfs,
    prepare_rootfs,
)


@pytest.fixture(autouse=True)
def _host_mounts_unchanged() -> Iterator[None]:
    yield from host_mounts_guard()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path)


def _no_mount_namespace_config() -> dict:
    cfg = config(maskedPaths=["/etc/passwd"], readonlyPaths=["/proc/sys"])
    cfg["linux"]["namespaces"] = [{"type": "pid"}]
    return cfg


def test_host_namespace_mounts_are_contained_and_cleaned(
    bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state_dir = tmp_path_factory.mktemp("state")  # apart from the bundle
    plan = plan_rootfs(_no_mount_namespace_config(), str(bundle), host_mount_dir=str(state_dir))
    assert plan.mount_ns == "host" and plan.host_mounts == [str(state_dir / "rootfs")]

    def runtime_namespace() -> dict:
        private_mount_namespace()
        pid = os.fork()
        if pid == 0:  # the container init: no unshare
            code = 2
            try:
                prepare_rootfs(plan)
                enter_rootfs(plan)
                finalize_rootfs(plan)
                with open("/etc/passwd") as f:
                    masked = f.read() == ""
                code = 0 if masked and sorted(os.listdir("/"))[:3] == ["bin", "dev", "etc"] else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        table = [m.mount_point for m in mountinfo()]
        left = [p for p in table if p.startswith(str(state_dir))]
        on_bundle = [p for p in table if p.startswith(str(bundle))]
        cleanup_host_side(plan)
        after = [m.mount_point for m in mountinfo() if m.mount_point.startswith(str(state_dir))]
        cleanup_host_mounts(str(state_dir))  # twice is fine
        return {"status": status, "left": left, "on_bundle": on_bundle, "after": after,
                "dir_gone": not os.path.exists(state_dir / "rootfs")}

    got = run_forked(runtime_namespace)
    assert got["status"] == 0
    root = str(state_dir / "rootfs")
    assert got["left"][0] == root
    assert {root + "/proc", root + "/dev", root + "/dev/pts", root + "/sys", root + "/etc/passwd",
            root + "/proc/sys"} <= set(got["left"])
    assert got["on_bundle"] == []
    assert got["after"] == [] and got["dir_gone"]


def test_without_a_runtime_dir_a_host_namespace_container_is_refused(bundle: Path) -> None:
    plan = plan_rootfs(_no_mount_namespace_config(), str(bundle))

    def child() -> str:
        private_mount_namespace()
        try:
            prepare_rootfs(plan)
        except UnsupportedError as err:
            return str(err)
        return "prepared"

    assert "without a mount namespace" in run_forked(child)


def test_cleanup_without_mounts_is_a_no_op(tmp_path: Path) -> None:
    cleanup_host_mounts(str(tmp_path / "never-created"))
    (tmp_path / "rootfs").mkdir()
    cleanup_host_mounts(str(tmp_path))
    assert not (tmp_path / "rootfs").exists()
