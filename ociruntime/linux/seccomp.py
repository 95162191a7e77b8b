"""libseccomp (to build filters in the runtime parent) and seccomp(2) probes.

Building is done here, before any fork; loading happens in the container
process through ociruntime.linux.exec (one C call that loads and execs).
libseccomp action and comparison values equal the kernel's SECCOMP_RET_*
values, so a compiled action can be probed with action_available() directly.
"""

from __future__ import annotations

import errno
import os

from ociruntime.linux._lib import check, ffi, fsencode, lib, os_error
from ociruntime.records import record

TYPE_CHECKING = False  # collections.abc runs collections/__init__ (~3 ms) in stage 1
if TYPE_CHECKING:
    from collections.abc import Sequence

# Actions (libseccomp SCMP_ACT_*; ERRNO and TRACE carry data, see act_errno/act_trace)
ACT_KILL_PROCESS: int = lib.SCMP_ACT_KILL_PROCESS
ACT_KILL_THREAD: int = lib.SCMP_ACT_KILL_THREAD
ACT_KILL: int = lib.SCMP_ACT_KILL
ACT_TRAP: int = lib.SCMP_ACT_TRAP
ACT_NOTIFY: int = lib.SCMP_ACT_NOTIFY
ACT_LOG: int = lib.SCMP_ACT_LOG
ACT_ALLOW: int = lib.SCMP_ACT_ALLOW
_ACT_ERRNO_BASE: int = lib.SECCOMP_RET_ERRNO
_ACT_TRACE_BASE: int = lib.SECCOMP_RET_TRACE
ACTION_DATA_MAX = 0xFFFF

# Argument comparisons
CMP_NE: int = lib.SCMP_CMP_NE
CMP_LT: int = lib.SCMP_CMP_LT
CMP_LE: int = lib.SCMP_CMP_LE
CMP_EQ: int = lib.SCMP_CMP_EQ
CMP_GE: int = lib.SCMP_CMP_GE
CMP_GT: int = lib.SCMP_CMP_GT
CMP_MASKED_EQ: int = lib.SCMP_CMP_MASKED_EQ

# Filter attributes
FLTATR_ACT_BADARCH: int = lib.SCMP_FLTATR_ACT_BADARCH
FLTATR_CTL_NNP: int = lib.SCMP_FLTATR_CTL_NNP
FLTATR_CTL_OPTIMIZE: int = lib.SCMP_FLTATR_CTL_OPTIMIZE

# seccomp(2) filter flags
FILTER_FLAG_TSYNC: int = lib.SECCOMP_FILTER_FLAG_TSYNC
FILTER_FLAG_LOG: int = lib.SECCOMP_FILTER_FLAG_LOG
FILTER_FLAG_SPEC_ALLOW: int = lib.SECCOMP_FILTER_FLAG_SPEC_ALLOW
FILTER_FLAG_NEW_LISTENER: int = lib.SECCOMP_FILTER_FLAG_NEW_LISTENER
FILTER_FLAG_TSYNC_ESRCH: int = lib.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
FILTER_FLAG_WAIT_KILLABLE_RECV: int = lib.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

ARCH_NATIVE: int = lib.SCMP_ARCH_NATIVE
BPF_INSTRUCTION_SIZE = 8
MAX_SYSCALL_ARGS = 6


def act_errno(value: int) -> int:
    """SCMP_ACT_ERRNO(value): fail the syscall with errno value."""
    return _ACT_ERRNO_BASE | (value & ACTION_DATA_MAX)


def act_trace(value: int) -> int:
    """SCMP_ACT_TRACE(value): notify a ptrace tracer with value as message."""
    return _ACT_TRACE_BASE | (value & ACTION_DATA_MAX)


def libseccomp_version() -> str:
    """The libseccomp this module links, "major.minor.micro"."""
    v = lib.seccomp_version()
    return f"{v.major}.{v.minor}.{v.micro}"


def api_level() -> int:
    """libseccomp's API level for this kernel (6+ means user notification works)."""
    return int(lib.seccomp_api_get())


def resolve_arch(name: str) -> int | None:
    """libseccomp token for an arch name such as "x86_64", None if unknown."""
    token = lib.seccomp_arch_resolve_name(fsencode(name, "seccomp arch"))
    return int(token) or None


def native_arch() -> int:
    return int(lib.seccomp_arch_native())


def resolve_syscall(name: str, arch: int = ARCH_NATIVE) -> int | None:
    """Syscall number for arch (a negative pseudo-number when it exists only on
    other arches), None if libseccomp does not know the name at all."""
    number = lib.seccomp_syscall_resolve_name_arch(arch, fsencode(name, "seccomp syscall"))
    return None if number == lib.__NR_SCMP_ERROR else int(number)


def flags_known(flags: int) -> bool:
    """True if the running kernel accepts these SECCOMP_FILTER_FLAG_* bits together."""
    return check(lib.ocr_seccomp_flags_known(flags), f"probe seccomp flags {flags:#x}") == 1


def action_available(action: int) -> bool:
    """True if the running kernel supports this action (SECCOMP_GET_ACTION_AVAIL)."""
    # ERRNO/TRACE data does not matter for availability.
    base = action & 0xFFFF0000
    return check(lib.ocr_seccomp_action_available(base), f"probe seccomp action {base:#x}") == 1


class Filter:
    """A libseccomp filter context: build it, export it as BPF, release it.

    Use as a context manager so the context is released on every path.
    """

    def __init__(self, default_action: int) -> None:
        ctx = lib.seccomp_init(default_action)
        if ctx == ffi.NULL:
            raise os_error(errno.EINVAL, f"seccomp_init default action {default_action:#x}")
        self._ctx = ctx

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ctx is not None:
            lib.seccomp_release(self._ctx)
            self._ctx = None

    @property
    def ctx(self) -> object:
        if self._ctx is None:
            raise ValueError("seccomp filter already released")
        return self._ctx

    def add_arch(self, token: int) -> bool:
        """Add an architecture; False if the filter already has it (e.g. native)."""
        ret = lib.seccomp_arch_add(self.ctx, token)
        if ret == -errno.EEXIST:
            return False
        check(ret, f"seccomp_arch_add {token:#x}")
        return True

    def set_attr(self, attr: int, value: int) -> None:
        check(lib.seccomp_attr_set(self.ctx, attr, value), f"seccomp_attr_set {attr} = {value}")

    def add_rule(self, action: int, syscall: int, conditions: Sequence[tuple[int, int, int, int]] = ()) -> None:
        """seccomp_rule_add_array; conditions are (arg index, CMP_*, datum_a, datum_b)."""
        count = len(conditions)
        array = ffi.new("struct scmp_arg_cmp[]", max(count, 1))
        for i, (arg, op, datum_a, datum_b) in enumerate(conditions):
            array[i].arg = arg
            array[i].op = op
            array[i].datum_a = datum_a
            array[i].datum_b = datum_b
        ret = lib.seccomp_rule_add_array(self.ctx, action, syscall, count, array if count else ffi.NULL)
        check(ret, f"seccomp_rule_add syscall {syscall} action {action:#x} with {count} conditions")

    def export_bpf(self) -> bytes:
        """The filter as classic BPF, ready for seccomp(SECCOMP_SET_MODE_FILTER)."""
        return self._export(lib.seccomp_export_bpf, "seccomp_export_bpf")

    def export_pfc(self) -> str:
        """Human-readable pseudo filter code (for debugging)."""
        return self._export(lib.seccomp_export_pfc, "seccomp_export_pfc").decode()

    def _export(self, exporter: object, what: str) -> bytes:
        fd = os.memfd_create("ociruntime-seccomp", os.MFD_CLOEXEC)
        try:
            check(exporter(self.ctx, fd), what)  # type: ignore[operator]
            size = os.fstat(fd).st_size
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)


USER_NOTIF_FLAG_CONTINUE: int = lib.SECCOMP_USER_NOTIF_FLAG_CONTINUE


@record(frozen=True)
class Notification:
    """One intercepted syscall, as read from a listener fd."""

    id: int
    pid: int
    syscall: int
    arch: int
    args: tuple[int, ...]


def notify_receive(listener_fd: int) -> Notification:
    """Block until the filtered process makes a notified syscall (agent side)."""
    req_p = ffi.new("struct seccomp_notif **")
    resp_p = ffi.new("struct seccomp_notif_resp **")
    check(lib.seccomp_notify_alloc(req_p, resp_p), "seccomp_notify_alloc")
    try:
        req = req_p[0]
        check(lib.seccomp_notify_receive(listener_fd, req), f"receive seccomp notification on fd {listener_fd}")
        return Notification(
            id=int(req.id),
            pid=int(req.pid),
            syscall=int(req.data.nr),
            arch=int(req.data.arch),
            args=tuple(int(a) for a in req.data.args),
        )
    finally:
        lib.seccomp_notify_free(req_p[0], resp_p[0])


def notify_respond(listener_fd: int, notification_id: int, value: int = 0, error: int = 0, flags: int = 0) -> None:
    """Answer a notification: the syscall returns value, or fails with errno
    error (positive), or runs for real with flags=USER_NOTIF_FLAG_CONTINUE."""
    req_p = ffi.new("struct seccomp_notif **")
    resp_p = ffi.new("struct seccomp_notif_resp **")
    check(lib.seccomp_notify_alloc(req_p, resp_p), "seccomp_notify_alloc")
    try:
        resp = resp_p[0]
        resp.id = notification_id
        resp.val = value
        resp.error = -error if error else 0
        resp.flags = flags
        check(lib.seccomp_notify_respond(listener_fd, resp), f"respond to seccomp notification {notification_id}")
    finally:
        lib.seccomp_notify_free(req_p[0], resp_p[0])
