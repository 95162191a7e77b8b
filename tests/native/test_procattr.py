"""ociruntime.linux.procattr on the real kernel, read back through python-prctl (an
independent implementation) and /proc/self/status, each in a forked child."""

from __future__ import annotations

import errno
import os
import signal

import prctl
import pytest

from native.support import run_forked
from ociruntime.linux import procattr

NOBODY = 65534


def _status_mask(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    raise AssertionError(f"{field} not in /proc/self/status")


def test_dumpable_subreaper_no_new_privs_and_pdeathsig_round_trip() -> None:
    def child() -> tuple[int, bool, int, int, int]:
        procattr.set_dumpable(False)
        procattr.set_child_subreaper()
        procattr.set_no_new_privs()
        procattr.set_pdeathsig(signal.SIGUSR2)
        return (prctl.get_dumpable(), prctl.get_child_subreaper(), prctl.get_no_new_privs(),
                prctl.get_pdeathsig(), procattr.get_pdeathsig())

    assert run_forked(child) == (0, True, 1, signal.SIGUSR2, signal.SIGUSR2)


def test_keepcaps_keeps_permitted_across_a_uid_change() -> None:
    def child(keep: bool) -> int:
        procattr.set_keepcaps(keep)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        return _status_mask("CapPrm")

    assert run_forked(child, True) != 0
    assert run_forked(child, False) == 0


def test_bounding_set_read_and_drop() -> None:
    def child() -> tuple[bool, bool, bool]:
        cap = prctl.CAP_NET_RAW
        before = procattr.in_bounding_set(cap)
        procattr.drop_from_bounding_set(cap)
        return before, procattr.in_bounding_set(cap), bool(prctl.capbset_read(cap))

    assert run_forked(child) == (True, False, False)


def test_capset_sets_exactly_the_masks_and_capget_reads_them() -> None:
    chown, kill = 1 << prctl.CAP_CHOWN, 1 << prctl.CAP_KILL

    def child() -> tuple[tuple[int, int, int], int, int, int]:
        procattr.set_capabilities(chown, chown | kill, kill)
        return (procattr.get_capabilities(), _status_mask("CapEff"), _status_mask("CapPrm"),
                _status_mask("CapInh"))

    assert run_forked(child) == ((chown, chown | kill, kill), chown, chown | kill, kill)


def test_capset_beyond_permitted_is_eperm_with_a_plain_message() -> None:
    def child() -> None:
        procattr.set_capabilities(0, 0, 0)
        procattr.set_capabilities(1, 1, 0)

    with pytest.raises(OSError) as info:
        run_forked(child)
    assert info.value.errno == errno.EPERM
    assert info.value.strerror == os.strerror(errno.EPERM)


def _unsigned(value: int) -> int:
    return value + 2**64 if value < 0 else value  # resource gives RLIM_INFINITY as -1


def test_get_rlimit_reads_what_the_resource_module_reads() -> None:
    import resource

    for number in (resource.RLIMIT_NOFILE, resource.RLIMIT_CORE, resource.RLIMIT_STACK, resource.RLIMIT_AS):
        expected = tuple(_unsigned(v) for v in resource.getrlimit(number))
        assert procattr.get_rlimit(number) == expected, number


def test_set_rlimit_on_another_process_with_infinity() -> None:
    import resource

    infinity = 2**64 - 1
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    try:
        procattr.set_rlimit(resource.RLIMIT_CORE, 2**63, infinity, pid=pid)  # rlim_t is unsigned
        procattr.set_rlimit(resource.RLIMIT_NOFILE, 100, 200, pid=pid)
        assert procattr.get_rlimit(resource.RLIMIT_CORE, pid=pid) == (2**63, infinity)
        assert tuple(map(_unsigned, resource.prlimit(pid, resource.RLIMIT_NOFILE))) == (100, 200)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_set_rlimit_soft_above_hard_is_einval_with_a_plain_message() -> None:
    import resource

    def child() -> None:
        procattr.set_rlimit(resource.RLIMIT_NOFILE, 300, 200)

    with pytest.raises(OSError) as info:
        run_forked(child)
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)
