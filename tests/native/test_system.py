"""ociruntime.linux.system against the real kernel."""

from __future__ import annotations

import errno
import fcntl
import os
import uuid
from pathlib import Path

import pytest

from native.support import run_forked
from ociruntime.linux import namespaces, system


def test_sethostname_and_setdomainname_in_a_new_uts_namespace() -> None:
    host_domain = Path("/proc/sys/kernel/domainname").read_text()

    def child() -> tuple[str, str]:
        namespaces.unshare(namespaces.CLONE_NEWUTS)
        system.sethostname("box")
        system.setdomainname("example.test")
        return os.uname().nodename, Path("/proc/sys/kernel/domainname").read_text().strip()

    assert run_forked(child) == ("box", "example.test")
    assert Path("/proc/sys/kernel/domainname").read_text() == host_domain


def test_sethostname_too_long_is_an_error_with_the_name() -> None:
    def child() -> None:
        namespaces.unshare(namespaces.CLONE_NEWUTS)
        system.sethostname("x" * 65)

    with pytest.raises(OSError) as info:
        run_forked(child)
    assert info.value.errno == errno.EINVAL
    assert "sethostname 'xxxx" in str(info.value)


def test_join_session_keyring_creates_a_named_keyring_we_can_describe() -> None:
    name = f"_ses.ocitest-{uuid.uuid4().hex[:8]}"

    def child() -> tuple[int, str, str]:
        serial = system.join_session_keyring(name)
        return serial, system.describe_key(serial), system.describe_key(-3)  # -3: KEY_SPEC_SESSION_KEYRING

    serial, described, session = run_forked(child)
    assert serial > 0
    kind, uid, gid, _perm, description = described.split(";", 4)
    assert (kind, uid, gid, description) == ("keyring", "0", "0", name)
    assert session == described  # it is now this process's session keyring


def test_join_session_keyring_anonymous_gives_a_fresh_keyring() -> None:
    def child() -> tuple[int, int]:
        first = system.join_session_keyring(None)
        second = system.join_session_keyring(None)
        return first, second

    first, second = run_forked(child)
    assert first > 0 and second > 0 and first != second


def test_set_key_permissions_adds_bits_like_runc() -> None:
    name = f"_ses.ocitest-{uuid.uuid4().hex[:8]}"

    def child() -> tuple[int, int]:
        serial = system.join_session_keyring(name)
        before = system.key_permissions(serial)
        system.set_key_permissions(serial, 0xFFFFFFFF, system.KEY_USR_SEARCH | system.KEY_OTH_SEARCH)
        return before, system.key_permissions(serial)

    before, after = run_forked(child)
    assert after == before | system.KEY_USR_SEARCH | system.KEY_OTH_SEARCH
    assert after != before


def test_describe_key_error_names_the_serial() -> None:
    with pytest.raises(OSError) as info:
        system.describe_key(0x7FFFFFF0)
    assert info.value.errno == errno.ENOKEY
    assert f"describe key {0x7FFFFFF0}" in str(info.value)


def _open_fds() -> list[int]:
    return sorted(int(name) for name in os.listdir("/proc/self/fd"))


def test_close_range_closes_everything_from_first() -> None:
    def child() -> tuple[list[int], list[int]]:
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(4)]
        keep, drop = fds[0], fds[1:]  # the result pipe was opened before these: stays open
        assert all(_is_open(fd) for fd in fds)
        system.close_range(drop[0])
        remaining = [fd for fd in fds if _is_open(fd)]
        return [keep], remaining

    expected, remaining = run_forked(child)
    assert remaining == expected


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_range_cloexec_marks_instead_of_closing() -> None:
    def child() -> list[bool]:
        fd = os.open("/dev/null", os.O_RDONLY)
        os.set_inheritable(fd, True)
        system.close_range(fd, fd, cloexec=True)
        return [_is_open(fd), bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)]

    assert run_forked(child) == [True, True]


def test_close_range_rejects_a_reversed_range() -> None:
    with pytest.raises(OSError) as info:
        system.close_range(10, 5)
    assert info.value.errno == errno.EINVAL
    assert "close_range 10..5" in str(info.value)
