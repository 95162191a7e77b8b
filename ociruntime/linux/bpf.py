"""bpf(2) for cgroup v2 device control: load, attach, detach, query, look up by id.

Thin wrappers over csrc/bpf.c. Every function raises OSError (errno plus what failed);
a program the verifier refuses raises VerifierError carrying the verifier's log.
"""

from __future__ import annotations

import errno
import os

from ociruntime.linux._lib import check, ffi, fsencode, lib

BPF_PROG_TYPE_CGROUP_DEVICE: int = lib.BPF_PROG_TYPE_CGROUP_DEVICE
BPF_CGROUP_DEVICE: int = lib.BPF_CGROUP_DEVICE
BPF_F_ALLOW_OVERRIDE: int = lib.BPF_F_ALLOW_OVERRIDE
BPF_F_ALLOW_MULTI: int = lib.BPF_F_ALLOW_MULTI
NAME_MAX: int = lib.BPF_OBJ_NAME_LEN - 1

_LOG_SIZE = 1 << 20   # the verifier log of a refused program; ours are a few hundred insns


class VerifierError(OSError):
    """BPF_PROG_LOAD refused the program; `log` is what the verifier said."""

    def __init__(self, err: int, message: str, log: str) -> None:
        super().__init__(err, message)
        self.log = log


def load_cgroup_device(code: bytes, license: str, name: str = "") -> int:
    """BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd.

    Loaded without a log first (a log too small for a large accepted program is itself
    an error on older kernels); only a refused program is loaded again to get the log.
    """
    if not code or len(code) % 8:
        raise ValueError(f"a BPF program is a non-empty array of 8-byte instructions, got {len(code)} bytes")
    if len(name) > NAME_MAX or not all(c.isalnum() or c in "_." for c in name):
        raise ValueError(f"invalid BPF program name {name!r} (at most {NAME_MAX} of [A-Za-z0-9_.])")
    insns = ffi.from_buffer(code)
    lic = ffi.new("char[]", fsencode(license, "bpf license"))
    cname = ffi.new("char[]", name.encode()) if name else ffi.NULL
    fd = lib.ocr_bpf_load_cgroup_device(insns, len(code), lic, cname, ffi.NULL, 0)
    if fd >= 0:
        return fd
    log = ffi.new("char[]", _LOG_SIZE)
    fd = lib.ocr_bpf_load_cgroup_device(insns, len(code), lic, cname, log, _LOG_SIZE)
    if fd >= 0:   # accepted the second time (a transient failure such as EAGAIN)
        return fd
    text = ffi.string(log).decode("utf-8", "replace").strip()
    what = f"load cgroup device program ({len(code) // 8} instructions)"
    err = -fd
    detail = f": verifier: {'; '.join(text.splitlines()[-5:])}" if text else ""
    raise VerifierError(err, f"{what}: {os.strerror(err)}{detail}", text)


def attach(cgroup_fd: int, prog_fd: int, flags: int = BPF_F_ALLOW_MULTI) -> None:
    """BPF_PROG_ATTACH as BPF_CGROUP_DEVICE to the cgroup directory open at cgroup_fd."""
    check(lib.ocr_bpf_prog_attach(cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags),
          f"attach device program (fd {prog_fd}) to cgroup fd {cgroup_fd}")


def detach(cgroup_fd: int, prog_fd: int) -> None:
    """BPF_PROG_DETACH of one BPF_CGROUP_DEVICE program from the cgroup."""
    check(lib.ocr_bpf_prog_detach(cgroup_fd, prog_fd, BPF_CGROUP_DEVICE),
          f"detach device program (fd {prog_fd}) from cgroup fd {cgroup_fd}")


def attached_ids(cgroup_fd: int) -> list[int]:
    """Ids of the BPF_CGROUP_DEVICE programs attached directly to this cgroup."""
    room = 16
    while True:
        ids = ffi.new("uint32_t[]", room)
        count = ffi.new("uint32_t *", room)
        flags = ffi.new("uint32_t *")
        ret = lib.ocr_bpf_prog_query(cgroup_fd, BPF_CGROUP_DEVICE, flags, ids, count)
        if ret == -errno.ENOSPC and count[0] > room:
            room = count[0]
            continue
        check(ret, f"query device programs of cgroup fd {cgroup_fd}")
        return [ids[i] for i in range(count[0])]


def prog_fd_by_id(prog_id: int) -> int:
    """A new fd for the program with this id (the caller closes it)."""
    return check(lib.ocr_bpf_prog_get_fd_by_id(prog_id), f"get bpf program {prog_id}")


def prog_info(prog_fd: int) -> tuple[int, int, str]:
    """(id, program type, name) of a loaded program."""
    pid = ffi.new("uint32_t *")
    ptype = ffi.new("uint32_t *")
    name = ffi.new("char[]", lib.BPF_OBJ_NAME_LEN)
    check(lib.ocr_bpf_prog_info(prog_fd, pid, ptype, name, lib.BPF_OBJ_NAME_LEN),
          f"info of bpf program fd {prog_fd}")
    return pid[0], ptype[0], ffi.string(name).decode("ascii", "replace")

