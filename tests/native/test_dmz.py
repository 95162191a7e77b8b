"""The ociruntime-dmz trampoline (csrc/dmz/dmz.c, csrc/dmz_memfd.c, linux/exec.py):
a sealed memfd that does a container process's last execve (CVE-2019-5736).
Each exec goes once directly and once through the trampoline; what the target sees in
/proc/self/status must be the same."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path

import prctl
import pytest

from native.support import BUSYBOX, run_exec
from ociruntime.linux._lib import lib
from ociruntime.linux.exec import DMZ_ARGV0, CapabilitySets, DmzReport, execve
from ociruntime.security.seccomp import compile_seccomp

NOBODY = 65534
PT_LOAD, PT_INTERP = 1, 3
SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
STATUS_FIELDS = ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                 "Seccomp", "Seccomp_filters")


@pytest.fixture
def dmz_fd():
    fd = lib.ocr_dmz_memfd()
    assert fd >= 0, os.strerror(-fd)
    yield fd
    os.close(fd)


def _program_header_types(elf: bytes) -> list[int]:
    """p_type of every program header of a 64-bit little-endian ELF file."""
    assert elf[4] == 2 and elf[5] == 1, "ELFCLASS64, ELFDATA2LSB"
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]


def _status(output: str) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in output.splitlines() if ":" in line)
    return {name: fields[name].strip() for name in STATUS_FIELDS}


# --- the memfd ------------------------------------------------------------------------------

def test_the_memfd_holds_a_static_elf_and_is_close_on_exec(dmz_fd: int) -> None:
    image = os.pread(dmz_fd, lib.ocr_dmz_size() + 1, 0)
    assert len(image) == lib.ocr_dmz_size()
    assert image[:4] == b"\x7fELF"
    types = _program_header_types(image)
    assert PT_LOAD in types
    assert PT_INTERP not in types  # static: no loader to look up
    assert fcntl.fcntl(dmz_fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert os.readlink(f"/proc/self/fd/{dmz_fd}").startswith("/memfd:ociruntime-dmz")


def test_the_memfd_is_sealed_against_every_change(dmz_fd: int) -> None:
    assert fcntl.fcntl(dmz_fd, fcntl.F_GET_SEALS) == SEALS
    size = os.fstat(dmz_fd).st_size
    attempts: list[Callable[[], object]] = [
        lambda: os.pwrite(dmz_fd, b"\0", 0),
        lambda: os.ftruncate(dmz_fd, 0),
        lambda: os.ftruncate(dmz_fd, size + 4096),
        lambda: fcntl.fcntl(dmz_fd, fcntl.F_ADD_SEALS, 0),  # F_SEAL_SEAL: no seal changes
        lambda: mmap.mmap(dmz_fd, size, mmap.MAP_SHARED, mmap.PROT_WRITE),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionError):
            attempt()
    # a writable open through /proc (what a CVE-2019-5736 attacker does) cannot write either
    reopened = os.open(f"/proc/self/fd/{dmz_fd}", os.O_WRONLY)
    try:
        with pytest.raises(PermissionError):
            os.write(reopened, b"#!/bin/sh\n")
    finally:
        os.close(reopened)
    assert os.fstat(dmz_fd).st_size == size


# --- exec through it ------------------------------------------------------------------------

def test_the_target_runs_with_its_argv_and_env_and_its_own_exe() -> None:
    result = run_exec(lambda: execve(BUSYBOX, ["sh", "-c", 'echo "$0 $FOO"; readlink /proc/self/exe'],
                                     ["FOO=bar"], dmz=DmzReport()))
    assert result.error is None, result.error
    assert result.exit_code == 0
    assert result.output.splitlines() == ["sh bar", os.path.realpath(BUSYBOX)]


def test_carried_fds_close_at_the_targets_execve(tmp_path: Path) -> None:
    """(That they stay open through the trampoline's own exec shows in the report test:
    the report fd is close-on-exec in the caller and still gets the report.)"""
    marker = tmp_path / "marker"

    def child() -> None:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        other = os.open(marker, os.O_RDONLY)  # inheritable: the trampoline still closes it
        script = f"for f in {fd} {other}; do test -e /proc/self/fd/$f && echo open || echo closed; done"
        execve(BUSYBOX, ["sh", "-c", script], [], dmz=DmzReport(fd, "%s", carried=(other,)))

    result = run_exec(child)
    assert result.error is None, result.error
    assert (result.exit_code, result.output.split()) == (0, ["closed", "closed"])


@pytest.mark.parametrize(("name", "content", "mode", "err", "code"), [
    ("missing", None, 0, errno.ENOENT, 127),
    ("garbage", b"\x01\x02 not a program\n", 0o755, errno.ENOEXEC, 1),
    ("not-executable", b"#!/bin/sh\n", 0o644, errno.EACCES, 1),
])
def test_a_failed_execve_is_reported_to_the_fd_in_one_write(
        tmp_path: Path, name: str, content: bytes | None, mode: int, err: int, code: int) -> None:
    target = tmp_path / name
    if content is not None:
        target.write_bytes(content)
        target.chmod(mode)
    read_end, write_end = os.pipe()  # close-on-exec, as the runtime's start.error fd is
    template = f"start: execve {target} (100%%): %s [%d]"

    def child() -> None:
        os.close(read_end)
        execve(str(target), ["prog"], [], dmz=DmzReport(write_end, template))

    try:
        result = run_exec(child)
        os.close(write_end)
        report = os.read(read_end, 4096).decode()
    finally:
        os.close(read_end)
    assert result.error is None, result.error
    assert report == f"start: execve {target} (100%): {os.strerror(err)} [{err}]"
    assert result.exit_code == code
    assert result.output == ""  # nothing on stderr when the report fd took it


def test_without_a_report_fd_the_failure_goes_to_stderr() -> None:
    result = run_exec(lambda: execve("/nonexistent/prog", ["prog"], [], dmz=DmzReport(-1, "execve %s")))
    assert result.error is None
    assert result.exit_code == 127
    assert result.output == "execve No such file or directory\n"


@pytest.mark.parametrize("how", ["script", "symlink"])
def test_proc_self_exe_is_the_trampoline_which_refuses_to_run(tmp_path: Path, how: str) -> None:
    """'#!/proc/self/exe' (or a link to it) re-enters the trampoline with argv the runtime did
    not make: it fails cleanly instead of exec'ing anything (it is never the host python)."""
    evil = tmp_path / "evil"
    if how == "script":
        evil.write_text("#!/proc/self/exe\nprint('host interpreter ran')\n")
        evil.chmod(0o755)
    else:
        evil.symlink_to("/proc/self/exe")
    result = run_exec(lambda: execve(str(evil), ["evil"], [], dmz=DmzReport()))
    assert result.error is None
    assert result.exit_code == 127
    assert result.output == "ociruntime-dmz: not started by ociruntime (refusing to exec anything)\n"


def test_started_by_hand_it_refuses_too(dmz_fd: int) -> None:
    for argv in (["ociruntime-dmz"], ["sh", "-1", "", "-1", "-1", "", "%s", BUSYBOX, "true"],
                 [DMZ_ARGV0, "-1", "", "%s", BUSYBOX, "echo", "ok"]):  # the argv of old
        result = run_exec(lambda argv=argv: os.execve(dmz_fd, argv, {}))
        assert result.exit_code == 127, argv
        assert "not started by ociruntime" in result.output
    result = run_exec(lambda: os.execve(dmz_fd, [DMZ_ARGV0, "-1", "", "-1", "-1", "", "%s", BUSYBOX, "echo", "ok"],
                                        {}))
    assert (result.exit_code, result.output) == (0, "ok\n")


# --- same credentials, filter and flags as a direct execve ----------------------------------

def _become_nobody_keeping_caps() -> None:
    prctl.set_keepcaps(True)
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def _drop_bounding_except(keep: list[int]) -> None:
    prctl.capbset.limit(*keep)


ALLOW_MKDIR_ERRNO = {"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
NET_BIND = prctl.CAP_NET_BIND_SERVICE
CHOWN = prctl.CAP_CHOWN


def _root_with_some_caps() -> dict:
    caps = CapabilitySets.from_numbers([CHOWN, NET_BIND], [CHOWN, NET_BIND], [NET_BIND], [])
    return {"prepare": lambda: _drop_bounding_except([CHOWN, NET_BIND, prctl.CAP_SETPCAP]), "caps": caps}


def _nobody_with_ambient() -> dict:
    caps = CapabilitySets.from_numbers([NET_BIND], [NET_BIND], [NET_BIND], [NET_BIND])
    return {"prepare": _become_nobody_keeping_caps, "caps": caps}


def _nobody_seccomp_without_nnp() -> dict:
    return {"prepare": _become_nobody_keeping_caps, "caps": CapabilitySets(), "seccomp": True}


def _root_seccomp_with_nnp() -> dict:
    return {"prepare": lambda: prctl.set_no_new_privs(True), "caps": None, "seccomp": True}


@pytest.mark.parametrize("case", [_root_with_some_caps, _nobody_with_ambient, _nobody_seccomp_without_nnp,
                                  _root_seccomp_with_nnp])
def test_the_target_gets_the_same_credentials_as_with_a_direct_execve(case: Callable[[], dict]) -> None:
    outputs = []
    for dmz in (None, DmzReport()):
        setup = case()
        program = compile_seccomp(ALLOW_MKDIR_ERRNO) if setup.get("seccomp") else None

        def child(setup: dict = setup, program: object = program, dmz: DmzReport | None = dmz) -> None:
            setup["prepare"]()
            execve(BUSYBOX, ["cat", "/proc/self/status"], [], program, capabilities=setup["caps"], dmz=dmz)

        result = run_exec(child)
        assert result.error is None, result.error
        assert result.exit_code == 0, result.output
        outputs.append(_status(result.output))
    direct, through_dmz = outputs
    assert through_dmz == direct
    if case is _nobody_with_ambient:
        assert direct["CapAmb"] == f"{1 << NET_BIND:016x}"
    if case in (_nobody_seccomp_without_nnp, _root_seccomp_with_nnp):
        assert direct["Seccomp"] == "2" and direct["Seccomp_filters"] == "1"


# --- waiting for `start` in the init's place --------------------------------------------------

FATAL_WHILE_WAITING = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM")


def _read_packet(fd: int) -> bytes:
    return os.read(fd, 4096)


def _waiting_child(wait_fd: int, ready_fd: int, as_nobody: bool = False, program: object = None) -> None:
    if as_nobody:
        _become_nobody_keeping_caps()
        os.setresuid(NOBODY, NOBODY, NOBODY)
    execve(BUSYBOX, ["echo", "ran"], [], program,
           dmz=DmzReport(-1, "execve %s", wait_fd=wait_fd, ready_fd=ready_fd, ready_message='{"type": "ready"}'))


def test_it_sends_ready_then_waits_for_one_byte_non_dumpable(tmp_path: Path) -> None:
    wait_r, wait_w = os.pipe()
    ready_r, ready_w = os.pipe()
    seen: dict[str, object] = {}

    def while_running(pid: int) -> None:
        os.close(ready_w)
        seen["ready"] = _read_packet(ready_r)
        seen["ready_closed"] = _read_packet(ready_r) == b""  # closed once written
        seen["exe"] = os.readlink(f"/proc/{pid}/exe")
        seen["comm"] = Path(f"/proc/{pid}/comm").read_text()
        # non-dumpable: /proc/<pid> files belong to root although the process is nobody's
        seen["owners"] = (os.stat(f"/proc/{pid}/status").st_uid, _uid_of(pid))
        seen["waiting"] = Path(f"/proc/{pid}/wchan").read_text()
        os.write(wait_w, b"0")

    try:
        result = run_exec(_waiting_child, wait_r, ready_w, True, while_running=while_running)
    finally:
        for fd in (wait_r, wait_w, ready_r):
            os.close(fd)
    assert result.error is None, result.error
    assert (result.exit_code, result.output) == (0, "ran\n")
    assert seen["ready"] == b'{"type": "ready"}' and seen["ready_closed"]
    assert str(seen["exe"]).startswith("/memfd:ociruntime-dmz")
    assert seen["comm"] == "oci:[2:INIT]\n"  # the runtime's name for a waiting init
    assert seen["owners"] == (0, NOBODY)
    assert "pipe" in str(seen["waiting"])  # blocked reading the "fifo" until the byte came


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


@pytest.mark.parametrize("name", FATAL_WHILE_WAITING)
def test_while_waiting_it_exits_by_the_signals_a_waiting_init_dies_from(name: str) -> None:
    """As the runtime's waiting init (child.py _FATAL_WHILE_WAITING): a handler exits with
    128+signal, which a PID-namespace init with default dispositions would not."""
    import signal

    number = getattr(signal, name)
    wait_r, wait_w = os.pipe()
    ready_r, ready_w = os.pipe()

    def while_running(pid: int) -> None:
        os.close(ready_w)
        assert _read_packet(ready_r) == b'{"type": "ready"}'
        os.kill(pid, number)

    try:
        result = run_exec(_waiting_child, wait_r, ready_w, while_running=while_running)
    finally:
        for fd in (wait_r, wait_w, ready_r):
            os.close(fd)
    assert (result.exit_code, result.term_signal, result.output) == (128 + number, None, "")


def test_a_filter_that_refuses_read_gets_an_error_record_instead_of_ready() -> None:
    import json

    program = compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}]})
    wait_r, wait_w = os.pipe()
    ready_r, ready_w = os.pipe()
    packets: list[bytes] = []

    def while_running(_pid: int) -> None:
        os.close(ready_w)
        packets.append(_read_packet(ready_r))

    try:
        result = run_exec(_waiting_child, wait_r, ready_w, False, program, while_running=while_running)
    finally:
        for fd in (wait_r, wait_w, ready_r):
            os.close(fd)
    assert result.error is None, result.error
    assert (result.exit_code, result.output) == (1, "")
    record = json.loads(packets[0])
    assert record == {"type": "error", "stage": "2:INIT", "errno": errno.EPERM, "code": "kernel.error",
                      "message": "2:INIT: ociruntime-dmz: read the exec fifo: Operation not permitted"}
