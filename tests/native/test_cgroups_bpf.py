"""The generated BPF_PROG_TYPE_CGROUP_DEVICE program in the real kernel.

The C extension has no bpf(2) yet, so this test calls it through ctypes (test code only):
the verifier must accept the program, and once attached to a cgroup2 directory it must
decide device access as the rules say for a process inside that cgroup.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import secrets

import pytest

from ociruntime.cgroups import bpf_devices
from ociruntime.cgroups.devices import WILDCARD, Emulator, Rule
from ociruntime.cgroups.layout import read_layout

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
BPF_PROG_LOAD, BPF_PROG_ATTACH = 5, 8
BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI = 15, 6, 2

_libc = ctypes.CDLL(None, use_errno=True)


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    ret = _libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def _load(code: bytes) -> tuple[int, str]:
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(bpf_devices.LICENSE.encode())
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    for offset, fmt, value in ((0, "I", BPF_PROG_TYPE_CGROUP_DEVICE), (4, "I", len(code) // 8),
                               (8, "Q", ctypes.addressof(insns)), (16, "Q", ctypes.addressof(license)),
                               (24, "I", 1), (28, "I", len(log)), (32, "Q", ctypes.addressof(log))):
        (ctypes.c_uint64 if fmt == "Q" else ctypes.c_uint32).from_buffer(attr, offset).value = value
    try:
        return _bpf(BPF_PROG_LOAD, attr), log.value.decode(errors="replace")
    except OSError as e:
        raise AssertionError(f"verifier refused the program: {e}\n{log.value.decode(errors='replace')}") from e


def _attach(cgroup_fd: int, prog_fd: int) -> None:
    attr = ctypes.create_string_buffer(32)
    for offset, value in ((0, cgroup_fd), (4, prog_fd), (8, BPF_CGROUP_DEVICE), (12, BPF_F_ALLOW_MULTI)):
        ctypes.c_uint32.from_buffer(attr, offset).value = value
    _bpf(BPF_PROG_ATTACH, attr)


def _probe(path: str, flags: int) -> str:
    try:
        os.close(os.open(path, flags))
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


PROBES = [("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), ("/dev/zero", os.O_WRONLY),
          ("/dev/full", os.O_RDONLY), ("/dev/urandom", os.O_RDONLY)]


@pytest.mark.skipif(SYS_BPF is None, reason="bpf(2) number unknown on this architecture")
def test_device_program_verified_and_enforced() -> None:
    layout = read_layout()
    assert layout.unified is not None, "this host mounts cgroup2 (hybrid)"
    rules = [Rule("a", WILDCARD, WILDCARD, "rwm", False), Rule("c", 1, 3, "rw", True),
             Rule("c", 1, 5, "r", True), Rule("c", 1, WILDCARD, "m", True),
             Rule("c", 1, 9, "rwm", True), Rule("c", 1, 9, "w", False)]
    prog_fd, _ = _load(bpf_devices.program(Emulator.from_rules(rules)))
    cgroup = os.path.join(layout.unified.mountpoint, f"ocrtest-bpf-{secrets.token_hex(4)}")
    os.mkdir(cgroup)
    cgroup_fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    gate_r, gate_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = -1
    try:
        _attach(cgroup_fd, prog_fd)
        pid = os.fork()
        if pid == 0:
            try:
                os.read(gate_r, 1)
                os.write(out_w, " ".join(_probe(p, f) for p, f in PROBES).encode())
            finally:
                os._exit(0)
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        os.write(gate_w, b"x")
        os.waitpid(pid, 0)
        pid = -1
        results = os.read(out_r, 1000).decode().split()
        # null: rw allowed; zero: read only; full: no rule; urandom: rwm minus w -> read ok.
        assert results == ["ok", "ok", "EPERM", "EPERM", "ok"]
    finally:
        if pid > 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        for fd in (gate_r, gate_w, out_r, out_w, cgroup_fd, prog_fd):
            os.close(fd)
        os.rmdir(cgroup)   # detaches the program with the cgroup
