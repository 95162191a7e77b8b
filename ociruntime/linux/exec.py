"""The last step of a container process: (seccomp filter, final capabilities,) execve.

Why one C call: once the container's seccomp filter is loaded, any syscall the
runtime makes is subject to it (runtime-tools' linux_seccomp blocks getcwd, and
runc trips on its own). So ocr_execve loads the filter, sets the final
capability sets and calls execve(2) without returning to Python in between.

Loading a filter needs no_new_privs or CAP_SYS_ADMIN. With
process.noNewPrivileges the filter is loaded here, as late as possible.
Without it, runc loads the filter *before* it drops capabilities and switches
user (libcontainer/standard_init_linux.go), so its own code keeps running under
the filter. We offer both:

* recommended: drop the bounding set and switch user first (with keep-caps, so
  CAP_SYS_ADMIN stays permitted), then call execve(..., capabilities=final
  sets): the C code raises effective to permitted, loads the filter, applies
  the final sets and the ambient set, and execs. Only capset, prctl, execve
  (and sendmsg/close for a listener) run under the filter.
* runc's order: load_seccomp() while still privileged, then finish in Python.

CVE-2019-5736: the caller is a forked Python interpreter, so /proc/self/exe is
the host interpreter when execve(2) runs; a target '#!/proc/self/exe' would
start that host file inside the container. With dmz=DmzReport(...) the C call
instead execs ociruntime-dmz (csrc/dmz/dmz.c) from a sealed memfd
(execveat(fd, "", AT_EMPTY_PATH); execve("/proc/self/fd/N") if the filter
refuses execveat), and the trampoline execs the target. A failure of that
last execve happens in the trampoline: it writes DmzReport.template (errno as
%d, its text as %s) to DmzReport.fd and exits 127 (ENOENT) or 1. The fds in
DmzReport.carried stay open across the trampoline's exec and close at the
target's (they tell the runtime that the target exec happened).

With SCMP_ACT_NOTIFY the filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER
and the listener fd is sent over the unix socket notify_fd in one sendmsg (one
SCM_RIGHTS fd, payload LISTENER_PAYLOAD); both fds are then closed so the
container never holds them. receive_listener_fd() is the other end.
"""

from __future__ import annotations

import errno
import os

from ociruntime.linux._lib import ffi, fsencode, lib, os_error

# typing, dataclasses and socket cost ~25 ms to import; this module is on the
# container start path, so it avoids them at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable, Sequence
    from typing import NoReturn, Protocol

    class BpfProgram(Protocol):
        """What execve needs of a compiled filter (security.seccomp.SeccompProgram)."""

        bpf: bytes
        flags: int

LISTENER_PAYLOAD = b"seccomp-listener"
DMZ_ARGV0 = "ociruntime-dmz"  # csrc/dmz/dmz.c refuses to run under any other argv[0]

_STEP_WHAT = {
    lib.OCR_STEP_RAISE_EFFECTIVE: "raise effective capabilities before loading seccomp",
    lib.OCR_STEP_SECCOMP: "load seccomp filter",
    lib.OCR_STEP_CAPSET: "set capabilities",
    lib.OCR_STEP_AMBIENT: "set ambient capabilities",
}


class CapabilitySets:
    """Final capability sets as bit masks (bit n = capability number n)."""

    __slots__ = ("effective", "permitted", "inheritable", "ambient")

    def __init__(self, effective: int = 0, permitted: int = 0, inheritable: int = 0, ambient: int = 0) -> None:
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CapabilitySets):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name):#x}" for name in self.__slots__)
        return f"CapabilitySets({fields})"

    @staticmethod
    def mask(numbers: Iterable[int]) -> int:
        result = 0
        for number in numbers:
            result |= 1 << number
        return result

    @classmethod
    def from_numbers(
        cls,
        effective: Iterable[int] = (),
        permitted: Iterable[int] = (),
        inheritable: Iterable[int] = (),
        ambient: Iterable[int] = (),
    ) -> CapabilitySets:
        return cls(cls.mask(effective), cls.mask(permitted), cls.mask(inheritable), cls.mask(ambient))


class DmzReport:
    """How the ociruntime-dmz trampoline reports a failed execve of the target:
    template (%d errno, %s its text, %% a percent sign) written in one write(2) to fd
    (-1: stderr); carried fds stay open until the target's execve.

    wait_fd >= 0 (a container init's exec fifo) makes the trampoline the created
    container's init: non-dumpable, ended by the signals a waiting init dies from, it
    writes ready_message to ready_fd (an error record instead if it cannot wait), closes
    that, and blocks until a byte arrives on wait_fd before the target's execve."""

    __slots__ = ("fd", "template", "carried", "wait_fd", "ready_fd", "ready_message")

    def __init__(self, fd: int = -1, template: str = "%s", carried: Iterable[int] = (), *,
                 wait_fd: int = -1, ready_fd: int = -1, ready_message: str = "") -> None:
        self.fd = fd
        self.template = template
        self.carried = tuple(carried) + ((wait_fd,) if wait_fd >= 0 else ())
        self.wait_fd = wait_fd
        self.ready_fd = ready_fd
        self.ready_message = ready_message


def percent_escaped(text: str) -> str:
    """text as a literal inside a DmzReport template."""
    return text.replace("%", "%%")


def _dmz_argv(path: str, argv: Sequence[str], report: DmzReport) -> list[str]:
    """csrc/dmz/dmz.c's argv: [argv0, report fd, carried fds, wait fd, ready fd, ready
    message, template, path, target argv...]."""
    carried = sorted({fd for fd in (*report.carried, report.fd) if fd >= 0})
    return [DMZ_ARGV0, str(report.fd), ",".join(map(str, carried)), str(report.wait_fd),
            str(report.ready_fd), report.ready_message, report.template, path, *argv]


def _open_dmz(report: DmzReport) -> int:
    """The sealed trampoline memfd (close-on-exec); the fds it is given made inheritable."""
    fd = lib.ocr_dmz_memfd()
    if fd < 0:
        raise os_error(-fd, "create the ociruntime-dmz memfd")
    for given in (*report.carried, report.fd, report.ready_fd):
        if given >= 0:
            os.set_inheritable(given, True)
    return fd


def _cstr_array(values: Sequence[str | bytes], what: str) -> tuple[object, list[object]]:
    """A NULL-terminated char*[] plus the buffers that must outlive the call."""
    keep = [ffi.new("char[]", fsencode(v, what)) for v in values]
    return ffi.new("char *[]", keep + [ffi.NULL]), keep


def _seccomp_failure(err: int, program: BpfProgram, notify_fd: int) -> OSError:
    count = len(program.bpf) // 8
    what = f"load seccomp filter ({count} instructions, flags {program.flags:#x})"
    if err == errno.EACCES:
        what += " (without noNewPrivileges this needs CAP_SYS_ADMIN)"
    if program.flags & lib.SECCOMP_FILTER_FLAG_NEW_LISTENER:
        what += f" and send its listener over fd {notify_fd}"
    return os_error(err, what)


def load_seccomp(program: BpfProgram, notify_fd: int = -1) -> None:
    """Load the filter into the calling process now (runc's order when
    noNewPrivileges is false: before capabilities are dropped). Everything the
    caller does afterwards runs under the filter."""
    bpf = ffi.from_buffer(program.bpf)
    ret = lib.ocr_seccomp_install(bpf, len(program.bpf), program.flags, notify_fd)
    if ret < 0:
        raise _seccomp_failure(-ret, program, notify_fd)


def execve(
    path: str,
    argv: list[str],
    env: list[str],
    seccomp: BpfProgram | None = None,
    notify_fd: int = -1,
    capabilities: CapabilitySets | None = None,
    dmz: DmzReport | None = None,
) -> NoReturn:
    """Optionally load seccomp, optionally set the final capabilities, then
    execve(path, argv, env), through the ociruntime-dmz trampoline if dmz is given
    (then a failure of the target's execve is the trampoline's to report). Raises
    OSError naming the step that failed."""
    if not argv:
        raise ValueError(f"execve {path}: argv must not be empty")
    c_path = fsencode(path, "execve path")
    exec_argv = argv if dmz is None else _dmz_argv(path, argv, dmz)
    c_argv, keep_argv = _cstr_array(exec_argv, "execve argv")
    c_env, keep_env = _cstr_array(env, "execve env")
    bpf, bpf_len, flags = ffi.NULL, 0, 0
    if seccomp is not None:
        bpf, bpf_len, flags = ffi.from_buffer(seccomp.bpf), len(seccomp.bpf), seccomp.flags
    caps = ffi.NULL
    if capabilities is not None:
        caps = ffi.new(
            "struct ocr_capsets *",
            {
                "effective": capabilities.effective,
                "permitted": capabilities.permitted,
                "inheritable": capabilities.inheritable,
                "ambient": capabilities.ambient,
            },
        )
    step = ffi.new("int *")
    dmz_fd = -1 if dmz is None else _open_dmz(dmz)
    ret = lib.ocr_execve(c_path, c_argv, c_env, bpf, bpf_len, flags, notify_fd, caps, dmz_fd, step)
    del keep_argv, keep_env
    err = -ret if ret < 0 else errno.EIO
    if dmz_fd >= 0:
        os.close(dmz_fd)
    if step[0] == lib.OCR_STEP_SECCOMP and seccomp is not None:
        raise _seccomp_failure(err, seccomp, notify_fd)
    if step[0] in _STEP_WHAT:
        raise os_error(err, f"{_STEP_WHAT[step[0]]} before execve {path}")
    if dmz_fd >= 0:
        raise os_error(err, f"execve {path}: exec of the ociruntime-dmz trampoline")
    raise os_error(err, f"execve {path}")


def receive_listener_fd(sock: socket.socket) -> int:
    """Receive the seccomp listener fd sent by execve/load_seccomp (close-on-exec)."""
    import socket
    _, fds, _, _ = socket.recv_fds(sock, 256, 1, socket.MSG_CMSG_CLOEXEC)
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise os_error(errno.EBADMSG, f"receive seccomp listener: expected 1 fd, got {len(fds)}")
    return fds[0]
