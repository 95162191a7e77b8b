"""ocr_cap_ambient_set (linux.system.set_ambient_capabilities) on the real kernel, in a
forked child: the ambient set becomes exactly the mask, and a capability outside the
inheritable set fails with EPERM naming that capability."""

from __future__ import annotations

import errno

import prctl
import pytest
from native.support import run_forked

from ociruntime.linux.system import set_ambient_capabilities

CAP_NET_BIND_SERVICE = 10
CAP_KILL = 5


def _cap_amb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("CapAmb:"):
                return int(line.split()[1], 16)
    raise AssertionError("no CapAmb line")


def _set_then_read(mask: int, inheritable: list[int]) -> int:
    prctl.set_caps((inheritable, prctl.CAP_INHERITABLE, True))
    set_ambient_capabilities(mask)
    return _cap_amb()


def _set_and_fail(mask: int) -> tuple[int, str | None]:
    prctl.cap_inheritable.limit()  # nothing inheritable: no capability may become ambient
    try:
        set_ambient_capabilities(mask)
    except OSError as err:
        return err.errno or 0, err.filename
    return 0, None


def test_ambient_set_becomes_exactly_the_mask() -> None:
    mask = 1 << CAP_NET_BIND_SERVICE | 1 << CAP_KILL
    assert run_forked(_set_then_read, mask, [CAP_NET_BIND_SERVICE, CAP_KILL]) == mask
    assert run_forked(_set_then_read, 0, [CAP_KILL]) == 0


@pytest.mark.parametrize("cap", [CAP_KILL, CAP_NET_BIND_SERVICE])
def test_capability_outside_inheritable_fails_naming_it(cap: int) -> None:
    assert run_forked(_set_and_fail, 1 << cap) == (errno.EPERM, str(cap))
