"""Device rules: runc's defaults, the v1 emulator, and the eBPF program generator."""

from __future__ import annotations

import struct

import pytest

from ociruntime.cgroups import bpf_devices, devices
from ociruntime.cgroups.cgfile import CONFIG_FIELDS
from ociruntime.cgroups.devices import WILDCARD, Emulator, Rule
from ociruntime.errors import ConfigError


def _rule(text: str, allow: bool = True) -> Rule:
    kind, nums, access = text.split()
    major, minor = (WILDCARD if x == "*" else int(x) for x in nums.split(":"))
    return Rule(kind, major, minor, access, allow)


def test_parse_rules_defaults_and_errors() -> None:
    rules = devices.parse_rules([{"allow": False, "access": "rwm"},
                                 {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "wr"}],
                                CONFIG_FIELDS)
    assert [r.cgroup_string() for r in rules] == ["a *:* rwm", "c 10:229 rw"]
    assert rules[1].field == "devices[1]"
    with pytest.raises(ConfigError, match=r"linux\.resources\.devices\[0\]\.access: device access cannot be empty"):
        devices.parse_rules([{"allow": True}], CONFIG_FIELDS)
    with pytest.raises(ConfigError, match=r"devices\[0\]\.type: invalid cgroup device type 'u'"):
        devices.parse_rules([{"allow": True, "type": "u", "access": "r"}], CONFIG_FIELDS)
    with pytest.raises(ConfigError, match=r"devices\[0\]\.access: 'rx'"):
        devices.parse_rules([{"allow": True, "access": "rx"}], CONFIG_FIELDS)


def test_runc_defaults_appended_and_deduplicated_by_path() -> None:
    user = devices.parse_rules([{"allow": False, "access": "rwm"}], CONFIG_FIELDS)
    full = devices.with_runc_defaults(user, set())
    assert [r.cgroup_string() for r in full] == [
        "a *:* rwm", "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
        "c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    without = devices.with_runc_defaults(user, {"/dev/null", "/dev/zero"})
    assert "c 1:3 rwm" not in [r.cgroup_string() for r in without]
    assert "c 1:5 rwm" not in [r.cgroup_string() for r in without]
    assert len(without) == len(full) - 2


def test_emulator_whitelist_merges_and_removes() -> None:
    emu = Emulator.from_rules([_rule("a *:* rwm", False), _rule("c 1:3 r"), _rule("c 1:3 w"),
                               _rule("c 1:5 rwm"), _rule("c 1:5 m", False)])
    assert not emu.default_allow
    assert emu.exceptions == {("c", 1, 3): "rw", ("c", 1, 5): "rw"}


def test_emulator_refuses_hole_in_wildcard() -> None:
    rules = [_rule("a *:* rwm", False), _rule("c *:* m"), _rule("c 1:3 m", False)]
    with pytest.raises(devices.DeviceRuleError, match="cannot punch a hole"):
        Emulator.from_rules(rules)
    with pytest.raises(ConfigError, match=r"^config\.json: linux\.resources\.devices: rule 'c 1:3 m'"):
        devices.validate(rules, CONFIG_FIELDS)


def test_emulator_from_list_and_transition() -> None:
    current = Emulator.from_list("c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n")
    target = Emulator.from_rules([_rule("c 1:3 rw"), _rule("c 1:9 rwm"), _rule("c 136:* rwm")])
    steps = [(r.cgroup_string(), r.allow) for r in current.transition(target)]
    # Drop what is no longer wanted, then add what is new; no deny-all in between.
    assert steps == [("c 1:3 m", False), ("c 1:5 rwm", False), ("c 1:9 rwm", True)]
    blacklist = Emulator.from_list("a *:* rwm\n")
    assert blacklist.default_allow
    steps = [(r.cgroup_string(), r.allow) for r in blacklist.transition(target)]
    assert steps[0] == ("a *:* rwm", False) and len(steps) == 4


# --- eBPF -------------------------------------------------------------------------------

_NAMES = {0x61: "LdXMemW", 0x54: "AndImm32", 0x74: "RShImm32", 0xB4: "MovImm32",
          0xBC: "MovReg32", 0x55: "JNEImm", 0x5D: "JNEReg", 0x95: "Exit"}


def _disassemble(code: bytes) -> list[tuple]:
    out = []
    for i in range(0, len(code), 8):
        op, regs, off, imm = struct.unpack("<BBhi", code[i:i + 8])
        out.append((_NAMES[op], regs & 0xF, regs >> 4, off, imm))
    return out


_PROLOGUE = [("LdXMemW", 2, 1, 0, 0), ("AndImm32", 2, 0, 0, 65535), ("LdXMemW", 3, 1, 0, 0),
             ("RShImm32", 3, 0, 0, 16), ("LdXMemW", 4, 1, 4, 0), ("LdXMemW", 5, 1, 8, 0)]


def _runc_block(kind: int, major: int | None, minor: int | None, access_bits: int | None):
    body = [("JNEImm", 2, kind)]
    if access_bits is not None:
        body += [("MovReg32", 1, 3), ("AndImm32", 1, access_bits), ("JNEReg", 1, 3)]
    if major is not None:
        body.append(("JNEImm", 4, major))
    if minor is not None:
        body.append(("JNEImm", 5, minor))
    return body + [("MovImm32", 0, 1), ("Exit",)]


def test_program_matches_runc_builtin_allow_list() -> None:
    """The listing of runc's TestDeviceFilter_BuiltInAllowList, block by block."""
    rules = [r for _, r in devices.RUNC_DEFAULT_RULES]
    insns = _disassemble(bpf_devices.program(Emulator.from_rules(rules)))
    assert insns[:6] == _PROLOGUE
    expected_blocks = [
        _runc_block(1, None, None, 1), _runc_block(2, None, None, 1),   # b *:* m, c *:* m
        _runc_block(2, 1, 3, None), _runc_block(2, 1, 5, None), _runc_block(2, 1, 7, None),
        _runc_block(2, 1, 8, None), _runc_block(2, 1, 9, None), _runc_block(2, 5, 0, None),
        _runc_block(2, 5, 2, None), _runc_block(2, 10, 200, None), _runc_block(2, 136, None, None),
    ]
    pos = 6
    for block in expected_blocks:
        end = pos + len(block)
        for i, want in enumerate(block):
            name, dst, src, off, imm = insns[pos + i]
            assert name == want[0]
            if name == "JNEImm":
                assert (dst, imm) == want[1:] and pos + i + 1 + off == end   # jumps to next block
            elif name == "JNEReg":
                assert (dst, src) == want[1:] and pos + i + 1 + off == end
            elif name == "MovReg32":
                assert (dst, src) == want[1:]
            elif name in ("AndImm32", "MovImm32"):
                assert (dst, imm) == want[1:]
        pos = end
    assert insns[pos:] == [("MovImm32", 0, 0, 0, 0), ("Exit", 0, 0, 0, 0)]   # default: reject


def test_program_privileged_and_single_denied_device() -> None:
    allow_all = bpf_devices.program(Emulator.from_rules([_rule("a *:* rwm")]))
    assert _disassemble(allow_all)[6:] == [("MovImm32", 0, 0, 0, 1), ("Exit", 0, 0, 0, 0)]
    except_one = _disassemble(bpf_devices.program(
        Emulator.from_rules([_rule("a *:* rwm"), _rule("b 8:0 rwm", False)])))
    assert except_one[6:] == [
        ("JNEImm", 2, 0, 4, 1), ("JNEImm", 4, 0, 3, 8), ("JNEImm", 5, 0, 2, 0),
        ("MovImm32", 0, 0, 0, 0), ("Exit", 0, 0, 0, 0),
        ("MovImm32", 0, 0, 0, 1), ("Exit", 0, 0, 0, 0)]
