"""ociruntime.linux.namespaces against the real kernel."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from native.support import run_forked
from ociruntime.linux import namespaces, system


def test_tables_cover_every_namespace_the_kernel_has() -> None:
    kernel_names = set(os.listdir("/proc/self/ns")) - {"pid_for_children", "time_for_children"}
    assert set(namespaces.PROC_NS_NAMES.values()) == kernel_names
    assert set(namespaces.NAMESPACE_FLAGS) == set(namespaces.PROC_NS_NAMES)
    assert namespaces.PROC_NS_NAMES["network"] == "net" and namespaces.PROC_NS_NAMES["mount"] == "mnt"


@pytest.mark.parametrize("oci_type", sorted(namespaces.NAMESPACE_FLAGS))
def test_namespace_type_identifies_each_proc_ns_file(oci_type: str) -> None:
    fd = os.open(f"/proc/self/ns/{namespaces.PROC_NS_NAMES[oci_type]}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert namespaces.namespace_type(fd) == namespaces.NAMESPACE_FLAGS[oci_type]
    finally:
        os.close(fd)


def test_namespace_type_rejects_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-namespace"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as info:
            namespaces.namespace_type(fd)
    finally:
        os.close(fd)
    assert info.value.errno == errno.ENOTTY
    assert f"namespace type of fd {fd}" in str(info.value)


def test_unshare_uts_isolates_the_hostname() -> None:
    host_name = socket.gethostname()

    def child() -> str:
        namespaces.unshare(namespaces.CLONE_NEWUTS)
        system.sethostname("ocitest-unshared")
        return socket.gethostname()

    assert run_forked(child) == "ocitest-unshared"
    assert socket.gethostname() == host_name


def test_setns_returns_to_the_original_namespace() -> None:
    def child() -> tuple[str, str, int]:
        original = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
        namespaces.unshare(namespaces.CLONE_NEWUTS)
        system.sethostname("ocitest-inner")
        inner = socket.gethostname()
        namespaces.setns(original, namespaces.CLONE_NEWUTS)
        os.close(original)
        return inner, socket.gethostname(), os.stat("/proc/self/ns/uts").st_ino

    inner, after, ns_inode = run_forked(child)
    assert inner == "ocitest-inner"
    assert after == socket.gethostname()
    assert ns_inode == os.stat("/proc/self/ns/uts").st_ino


def test_setns_joins_another_process_namespace() -> None:
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    holder = os.fork()
    if holder == 0:  # keeps a UTS namespace with a known name alive
        try:
            os.close(ready_r)
            os.close(done_w)
            namespaces.unshare(namespaces.CLONE_NEWUTS)
            system.sethostname("ocitest-holder")
            os.write(ready_w, b"x")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        assert os.read(ready_r, 1) == b"x"

        def joiner() -> str:
            fd = os.open(f"/proc/{holder}/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
            namespaces.setns(fd)  # nstype 0: any
            return socket.gethostname()

        assert run_forked(joiner) == "ocitest-holder"
    finally:
        os.close(done_w)
        os.close(ready_r)
        os.waitpid(holder, 0)


def test_setns_with_the_wrong_type_is_refused() -> None:
    fd = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as info:
            namespaces.setns(fd, namespaces.CLONE_NEWNET)
    finally:
        os.close(fd)
    assert info.value.errno == errno.EINVAL
    assert f"setns fd {fd} type network" in str(info.value)


def test_unshare_error_names_the_flags() -> None:
    def child() -> None:
        namespaces.unshare(namespaces.CLONE_NEWUTS | 0x1)  # 0x1 is not an unshare flag

    with pytest.raises(OSError) as info:
        run_forked(child)
    assert info.value.errno == errno.EINVAL
    assert "unshare uts|0x1" in str(info.value)
