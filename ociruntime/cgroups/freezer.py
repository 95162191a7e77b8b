"""Pause and resume: the v1 freezer controller, or cgroup.freeze on cgroup v2."""

from __future__ import annotations

import posix
import time

from ociruntime.cgroups import cgfile
from ociruntime.errors import KernelError

_V1_ATTEMPTS = 1000
_V2_WAIT_SECONDS = 5.0


def freeze_v1(d: str) -> None:
    """Write FROZEN until the kernel reports FROZEN.

    A v1 cgroup can stay FREEZING while tasks keep forking into it; like runc, rewrite the
    state, and every so often thaw briefly so the stragglers settle.
    """
    for attempt in range(_V1_ATTEMPTS):
        if attempt % 50 == 49:
            cgfile.try_write(d, "freezer.state", "THAWED")
            time.sleep(0.01)
        err = cgfile.try_write(d, "freezer.state", "FROZEN")
        if err:
            raise KernelError(f"cannot freeze {d}/freezer.state: {_strerror(err)}", err)
        state = cgfile.read(d, "freezer.state").strip()
        if state == "FROZEN":
            return
        if state != "FREEZING":
            break
        if attempt > 10:
            time.sleep(0.001)
    cgfile.try_write(d, "freezer.state", "THAWED")
    raise KernelError(f"unable to freeze {d}: tasks kept the cgroup in FREEZING")


def thaw_v1(d: str) -> None:
    err = cgfile.try_write(d, "freezer.state", "THAWED")
    if err:
        raise KernelError(f"cannot thaw {d}/freezer.state: {_strerror(err)}", err)


def is_frozen_v1(d: str) -> bool:
    """Paused by us: FROZEN (or still FREEZING) with the request made on this cgroup."""
    state = cgfile.read(d, "freezer.state").strip()
    if state == "THAWED":
        return False
    # FROZEN can be inherited from a frozen parent; only our own request counts.
    return cgfile.read(d, "freezer.self_freezing").strip() == "1"


def is_frozen(hierarchies: dict[str, dict]) -> bool:
    """Paused by us, given a manager's hierarchies (key -> {"controllers", "dir"}; key
    "unified" for cgroup2): the v1 freezer if mounted, else cgroup.freeze."""
    try:
        for key, hierarchy in hierarchies.items():
            if key != "unified" and "freezer" in hierarchy["controllers"]:
                return is_frozen_v1(hierarchy["dir"])
        unified = hierarchies.get("unified")
        return bool(unified) and is_frozen_v2(unified["dir"])
    except FileNotFoundError:
        return False


def freeze_v2(d: str) -> None:
    err = cgfile.try_write(d, "cgroup.freeze", "1")
    if err:
        raise KernelError(f"cannot freeze {d}/cgroup.freeze: {_strerror(err)}", err)
    deadline = time.monotonic() + _V2_WAIT_SECONDS
    delay = 0.0005
    while cgfile.read_keyed(d, "cgroup.events").get("frozen") != 1:
        if time.monotonic() > deadline:
            cgfile.try_write(d, "cgroup.freeze", "0")
            raise KernelError(f"unable to freeze {d}: cgroup.events never reported frozen")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def thaw_v2(d: str) -> None:
    err = cgfile.try_write(d, "cgroup.freeze", "0")
    if err:
        raise KernelError(f"cannot thaw {d}/cgroup.freeze: {_strerror(err)}", err)


def is_frozen_v2(d: str) -> bool:
    return cgfile.read(d, "cgroup.freeze").strip() == "1"


def _strerror(err: int) -> str:
    return posix.strerror(err)
