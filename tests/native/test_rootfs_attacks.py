"""A malicious rootfs tries what hit runc; each attack must stay inside or be refused.

- symlinks in the image pointing at host paths (/etc) used as mount targets and device paths
- /proc as a symlink (CVE-2019-19921), a mount routed into procfs through a symlink
- the container's /dev/null swapped before masking (CVE-2025-31133)
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from native.test_rootfs_setup import config, device, host_mounts_guard, in_container, make_bundle, mounts_inside
from ociruntime.rootfs.plan import RootfsPlan


@pytest.fixture(autouse=True)
def _host_mounts_unchanged() -> Iterator[None]:
    yield from host_mounts_guard()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path)


@pytest.fixture
def host_etc_unchanged() -> Iterator[list[str]]:
    before = sorted(os.listdir("/etc"))
    yield before
    assert sorted(os.listdir("/etc")) == before, "the host's /etc changed"


def test_mount_targets_through_symlinks_stay_inside_the_rootfs(
    bundle: Path, tmp_path: Path, host_etc_unchanged: list[str]
) -> None:
    rootfs = bundle / "rootfs"
    (rootfs / "mnt" / "escape").symlink_to("/etc")  # absolute: the host's /etc if followed naively
    (rootfs / "mnt" / "up").symlink_to("../../../../../../../../etc")  # climbing above "/"
    (rootfs / "mnt" / "self").symlink_to("/proc/self/root/etc")  # a magic link: refused
    src = tmp_path / "volume"
    src.mkdir()
    (src / "file").write_text("from the volume")
    cfg = config(
        [
            {"destination": "/mnt/escape/ocitest-tmpfs", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/mnt/up/ocitest-bind", "source": str(src), "options": ["rbind"]},
        ],
        devices=[{"path": "/mnt/escape/ocitest-dev", "type": "c", "major": 1, "minor": 3}],
    )

    def check() -> tuple:
        points = [mp for mp, _, _, _, _ in mounts_inside()]
        with open("/etc/ocitest-bind/file") as f:
            return points, f.read(), device("/etc/ocitest-dev")[:3]

    points, content, dev = in_container(cfg, bundle, check)
    assert "/etc/ocitest-tmpfs" in points and "/etc/ocitest-bind" in points
    assert content == "from the volume" and dev == ("c", 1, 3)
    # created inside the image's /etc, never the host's (the fixture checks /etc itself)
    assert {"ocitest-tmpfs", "ocitest-bind", "ocitest-dev"} <= set(os.listdir(rootfs / "etc"))

    magic = config([{"destination": "/mnt/self/ocitest-magic", "type": "tmpfs", "source": "tmpfs"}])
    result = in_container(magic, bundle, lambda: "mounted")
    assert result[:2] == ("error", "KernelError") and "config.json: mounts[6]:" in result[2]
    assert result[3] == errno.ELOOP


def test_proc_on_a_symlink_is_refused(bundle: Path) -> None:
    """CVE-2019-19921: /proc -> a directory the attacker controls."""
    rootfs = bundle / "rootfs"
    (rootfs / "proc").rmdir()
    (rootfs / "fakeproc").mkdir()
    (rootfs / "proc").symlink_to("fakeproc")
    result = in_container(config(), bundle, lambda: "mounted")
    assert result[:2] == ("error", "KernelError")
    assert result[2].startswith("config.json: mounts[0]: mount proc on /proc")
    assert result[3] == errno.ELOOP
    assert os.listdir(rootfs / "fakeproc") == []


def test_proc_on_a_file_is_refused(bundle: Path) -> None:
    rootfs = bundle / "rootfs"
    (rootfs / "proc").rmdir()
    (rootfs / "proc").write_text("")
    result = in_container(config(), bundle, lambda: "mounted")
    assert result[:2] == ("error", "ConfigError") and "mounts[0].destination" in result[2]
    assert "ordinary directory" in result[2]


def test_sysfs_on_a_symlink_is_refused(bundle: Path) -> None:
    rootfs = bundle / "rootfs"
    (rootfs / "sys").rmdir()
    (rootfs / "sys").symlink_to("tmp")
    result = in_container(config(), bundle, lambda: "mounted")
    assert result[:2] == ("error", "KernelError") and "config.json: mounts[5]: mount sysfs on /sys" in result[2]


def test_a_mount_routed_into_procfs_by_a_symlink_is_refused(bundle: Path) -> None:
    (bundle / "rootfs" / "innocent").symlink_to("/proc/sys/kernel")
    cfg = config([{"destination": "/innocent/core_pattern", "source": "/etc/hostname", "options": ["bind"]}])
    result = in_container(cfg, bundle, lambda: "mounted")
    assert result[:2] == ("error", "ConfigError")
    assert "mounts[6].destination" in result[2] and "inside procfs" in result[2]


def _swap_dev_null(make: Callable[[str], object]) -> Callable[[RootfsPlan], None]:
    def between(plan: RootfsPlan) -> None:
        null = os.path.join(plan.rootfs, "dev", "null")  # the container's /dev tmpfs, pre-pivot
        os.unlink(null)
        make(null)

    return between


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda p: os.symlink("/proc/sys/kernel/core_pattern", p), id="symlink-to-procfs"),
        pytest.param(lambda p: os.symlink("zero", p), id="symlink-to-a-device"),
        pytest.param(lambda p: Path(p).write_text(""), id="regular-file"),
        pytest.param(lambda p: os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 5)), id="other-char-device"),
    ],
)
def test_masking_refuses_a_dev_null_that_is_not_the_null_device(
    bundle: Path, plant: Callable[[str], object]
) -> None:
    """CVE-2025-31133: between mounting and masking (createContainer hooks run there, and
    a shared volume could be changed then), /dev/null is replaced."""
    cfg = config(maskedPaths=["/proc/sys/kernel/core_pattern", "/etc/passwd"])
    result = in_container(cfg, bundle, lambda: "masked", between=_swap_dev_null(plant))
    assert result[:2] == ("error", "KernelError"), result
    assert "linux.maskedPaths" in result[2]
    assert "not the null device" in result[2] or result[3] == errno.ELOOP


def test_masked_paths_hide_files_and_directories_and_skip_missing(bundle: Path) -> None:
    rootfs = bundle / "rootfs"
    (rootfs / "secret").write_text("top secret")
    (rootfs / "secretdir").mkdir()
    (rootfs / "secretdir" / "key").write_text("key")
    os.mknod(rootfs / "masked-device", stat.S_IFCHR | 0o600, os.makedev(1, 7))
    (rootfs / "alias").symlink_to("/secret")  # masked through a symlink: the file it names
    cfg = config(maskedPaths=["/secret", "/secretdir", "/masked-device", "/nothing/here", "/alias"])

    def check() -> tuple:
        with open("/secret") as f:
            secret = f.read()
        return (secret, os.listdir("/secretdir"), write_errno_dir("/secretdir"), device("/masked-device")[:3],
                device("/secret")[:3])

    def write_errno_dir(path: str) -> int:
        try:
            os.mkdir(path + "/x")
        except OSError as err:
            return err.errno
        return 0

    secret, listing, dir_write, masked_device, secret_node = in_container(cfg, bundle, check)
    assert secret == "" and listing == [] and dir_write == errno.EROFS
    assert masked_device == ("c", 1, 3) and secret_node == ("c", 1, 3)
    assert (rootfs / "secret").read_text() == "top secret"
