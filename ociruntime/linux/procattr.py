"""prctl(2) attributes and capability sets of the calling process (csrc/prctl.c), and
resource limits of a process (csrc/rlimit.c).

The C core rather than python-prctl: that package costs ~1.6 ms to import on every `run`
and `exec` (its _prctl extension links libcap), and these are plain syscalls. Likewise
prlimit(2) here rather than Python's resource module, a shared library loaded on every
`create` (~0.3 ms) whose signed C longs would also need converting.
"""

from __future__ import annotations

import os

from ociruntime.linux._lib import check, ffi, lib


def _raise_plain(ret: int) -> None:
    # strerror alone (no "what:" prefix): callers word the message themselves
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))


def set_dumpable(dumpable: bool) -> None:
    check(lib.ocr_prctl_set(lib.PR_SET_DUMPABLE, int(dumpable)), "prctl(PR_SET_DUMPABLE)")


def set_child_subreaper() -> None:
    check(lib.ocr_prctl_set(lib.PR_SET_CHILD_SUBREAPER, 1), "prctl(PR_SET_CHILD_SUBREAPER)")


def set_no_new_privs() -> None:
    check(lib.ocr_prctl_set(lib.PR_SET_NO_NEW_PRIVS, 1), "prctl(PR_SET_NO_NEW_PRIVS)")


def set_keepcaps(keep: bool) -> None:
    check(lib.ocr_prctl_set(lib.PR_SET_KEEPCAPS, int(keep)), "prctl(PR_SET_KEEPCAPS)")


def get_pdeathsig() -> int:
    signal = ffi.new("int *")
    check(lib.ocr_prctl_get_pdeathsig(signal), "prctl(PR_GET_PDEATHSIG)")
    return int(signal[0])


def set_pdeathsig(signal: int) -> None:
    check(lib.ocr_prctl_set(lib.PR_SET_PDEATHSIG, signal), "prctl(PR_SET_PDEATHSIG)")


def in_bounding_set(cap: int) -> bool:
    return check(lib.ocr_capbset_read(cap), f"prctl(PR_CAPBSET_READ, {cap})") == 1


def drop_from_bounding_set(cap: int) -> None:
    _raise_plain(lib.ocr_capbset_drop(cap))


def get_capabilities() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as bit masks."""
    sets = ffi.new("struct ocr_capsets *")
    check(lib.ocr_capget(sets), "capget")
    return int(sets.effective), int(sets.permitted), int(sets.inheritable)


def set_capabilities(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) with exactly these bit masks."""
    _raise_plain(lib.ocr_capset(effective, permitted, inheritable))


def get_rlimit(resource: int, pid: int = 0) -> tuple[int, int]:
    """(soft, hard) of `pid` (0: this process), unsigned (RLIM_INFINITY = 2**64 - 1)."""
    old = ffi.new("struct ocr_rlimit *")
    check(lib.ocr_prlimit(pid, resource, ffi.NULL, old), f"prlimit({pid}, {resource})")
    return int(old.soft), int(old.hard)


def set_rlimit(resource: int, soft: int, hard: int, pid: int = 0) -> None:
    """prlimit(2) on `pid`; OSError with the bare strerror (callers word the message)."""
    new = ffi.new("struct ocr_rlimit *", {"soft": soft, "hard": hard})
    _raise_plain(lib.ocr_prlimit(pid, resource, new, ffi.NULL))
