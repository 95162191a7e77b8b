"""cgroup v2 device control: an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program from the rules.

The program follows runc's devicefilter (itself from crun): read the access type, major
and minor from struct bpf_cgroup_dev_ctx, then one block per emulated exception that
returns the non-default verdict on a match, and the default verdict at the end. The
generator is pure (bytes out); loading and attaching go through ociruntime.linux.bpf.
"""

from __future__ import annotations

import os
import struct

from ociruntime.cgroups.cgfile import CONFIG_FIELDS, Fields
from ociruntime.cgroups.devices import WILDCARD, Emulator

LICENSE = "Apache"            # as runc
PROGRAM_NAME = "ocirt_devices"  # how update and delete tell our programs from others'

# Opcodes (linux/bpf_common.h, linux/bpf.h).
_LDX_MEM_W = 0x61      # BPF_LDX | BPF_MEM | BPF_W
_ALU_AND_K = 0x54      # BPF_ALU | BPF_AND | BPF_K
_ALU_RSH_K = 0x74      # BPF_ALU | BPF_RSH | BPF_K
_ALU_MOV_K = 0xB4      # BPF_ALU | BPF_MOV | BPF_K
_ALU_MOV_X = 0xBC      # BPF_ALU | BPF_MOV | BPF_X
_JMP_JNE_K = 0x55      # BPF_JMP | BPF_JNE | BPF_K
_JMP_JNE_X = 0x5D      # BPF_JMP | BPF_JNE | BPF_X
_JMP_EXIT = 0x95       # BPF_JMP | BPF_EXIT

BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE = 1, 2, 4
BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR = 1, 2
_ACCESS_BITS = {"r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE, "m": BPF_DEVCG_ACC_MKNOD}
_ALL_ACCESS = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD

R0, R1, R2, R3, R4, R5 = range(6)


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn: u8 code, u8 dst:4|src:4, s16 off, s32 imm (little endian)."""
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _block(kind: str, major: int, minor: int, access: str, verdict: int) -> list[tuple]:
    """Instructions of one rule; ('jne-next', ...) placeholders are patched with offsets."""
    dev_type = BPF_DEVCG_DEV_CHAR if kind == "c" else BPF_DEVCG_DEV_BLOCK
    bits = 0
    for ch in access:
        bits |= _ACCESS_BITS[ch]
    body: list[tuple] = [("jne-next", _JMP_JNE_K, R2, 0, dev_type)]
    if bits != _ALL_ACCESS:
        # if ((access & bits) != access) goto next: R1 is free after the loads.
        body += [("insn", _ALU_MOV_X, R1, R3, 0), ("insn", _ALU_AND_K, R1, 0, bits),
                 ("jne-next", _JMP_JNE_X, R1, R3, 0)]
    if major != WILDCARD:
        body.append(("jne-next", _JMP_JNE_K, R4, 0, major))
    if minor != WILDCARD:
        body.append(("jne-next", _JMP_JNE_K, R5, 0, minor))
    body += [("insn", _ALU_MOV_K, R0, 0, verdict), ("insn", _JMP_EXIT, 0, 0, 0)]
    return body


def _prologue() -> bytes:
    return b"".join((
        insn(_LDX_MEM_W, R2, R1, 0),          # R2 = ctx->access_type
        insn(_ALU_AND_K, R2, 0, 0, 0xFFFF),   # R2 &= 0xffff  -> device type
        insn(_LDX_MEM_W, R3, R1, 0),          # R3 = ctx->access_type
        insn(_ALU_RSH_K, R3, 0, 0, 16),       # R3 >>= 16     -> access bits
        insn(_LDX_MEM_W, R4, R1, 4),          # R4 = ctx->major
        insn(_LDX_MEM_W, R5, R1, 8),          # R5 = ctx->minor
    ))


def program(emu: Emulator) -> bytes:
    """The whole program for an emulated rule set, as raw struct bpf_insn bytes."""
    default = 1 if emu.default_allow else 0
    out = [_prologue()]
    for (kind, major, minor), access in emu.sorted_exceptions():
        if major > 0xFFFFFFFF or minor > 0xFFFFFFFF:
            raise ValueError(f"device number out of range: {major}:{minor}")
        block = _block(kind, major, minor, access, 1 - default)
        for i, (tag, code, dst, src, imm) in enumerate(block):
            # A failed test jumps past the rest of this block: to the next block.
            off = len(block) - i - 1 if tag == "jne-next" else 0
            out.append(insn(code, dst, src, off, _s32(imm)))
    out.append(insn(_ALU_MOV_K, R0, 0, 0, default))
    out.append(insn(_JMP_EXIT))
    return b"".join(out)


def _s32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def load_and_attach(cgroup_dir: str, emu: Emulator, field: str = "devices",
                    fields: Fields = CONFIG_FIELDS) -> int:
    """Load the program for `emu` and make it the device program of cgroup_dir.

    runc's order: attach the new program with BPF_F_ALLOW_MULTI first, then detach the
    older programs of ours (by name), so the cgroup is never without a device filter.
    Programs attached by others stay (with ALLOW_MULTI every program must allow an
    access). Returns the new program's id. Errors name the field and the directory.
    """
    from ociruntime.linux import bpf

    code = program(emu)
    try:
        dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise fields.error(field, f"cannot open cgroup {cgroup_dir}: {os.strerror(e.errno)}") from e
    try:
        try:
            prog_fd = bpf.load_cgroup_device(code, LICENSE, PROGRAM_NAME)
        except OSError as e:
            raise fields.error(field, f"cannot load the device program for {cgroup_dir}: {e.strerror}") from e
        try:
            try:
                old = our_programs(dir_fd)
            except OSError as e:
                raise fields.error(field, f"cannot list the device programs of {cgroup_dir}: "
                                          f"{e.strerror}") from e
            try:
                bpf.attach(dir_fd, prog_fd, bpf.BPF_F_ALLOW_MULTI)
            except OSError as e:
                raise fields.error(field, f"cannot attach the device program to {cgroup_dir}: "
                                          f"{e.strerror}") from e
            try:
                new_id = bpf.prog_info(prog_fd)[0]
            except OSError as e:
                raise fields.error(field, f"cannot read back the device program of {cgroup_dir}: "
                                          f"{e.strerror}") from e
            for prog_id in old:
                if prog_id != new_id:
                    _detach_id(dir_fd, prog_id, cgroup_dir, field, fields)
            return new_id
        finally:
            os.close(prog_fd)
    finally:
        os.close(dir_fd)


def our_programs(dir_fd: int) -> list[int]:
    """Ids of the device programs attached to this cgroup that ociruntime loaded."""
    from ociruntime.linux import bpf

    ours = []
    for prog_id in bpf.attached_ids(dir_fd):
        try:
            fd = bpf.prog_fd_by_id(prog_id)
        except FileNotFoundError:
            continue   # detached and freed since the query
        try:
            _, prog_type, name = bpf.prog_info(fd)
        finally:
            os.close(fd)
        if prog_type == bpf.BPF_PROG_TYPE_CGROUP_DEVICE and name == PROGRAM_NAME:
            ours.append(prog_id)
    return ours


def detach_ours(cgroup_dir: str) -> int:
    """Detach every device program of ours from cgroup_dir; returns how many."""
    dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ids = our_programs(dir_fd)
        for prog_id in ids:
            _detach_id(dir_fd, prog_id, cgroup_dir, "devices", CONFIG_FIELDS)
        return len(ids)
    finally:
        os.close(dir_fd)


def _detach_id(dir_fd: int, prog_id: int, cgroup_dir: str, field: str, fields: Fields) -> None:
    from ociruntime.linux import bpf

    try:
        fd = bpf.prog_fd_by_id(prog_id)
    except FileNotFoundError:
        return
    try:
        bpf.detach(dir_fd, fd)
    except FileNotFoundError:
        pass   # already detached by someone else
    except OSError as e:
        raise fields.error(field, f"cannot detach the old device program {prog_id} from "
                                  f"{cgroup_dir}: {e.strerror}") from e
    finally:
        os.close(fd)
