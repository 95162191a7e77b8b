"""Mount option strings -> flags, propagation, recursive attributes and data (no root)."""

from __future__ import annotations

import pytest

from ociruntime.errors import ConfigError
from ociruntime.rootfs.options import SUPPORTED_MOUNT_OPTIONS, bind_attrs, parse_mount_options

# Kernel ABI values written out independently of the module under test.
RDONLY, NOSUID, NODEV, NOEXEC, SYNC, REMOUNT, MAND, DIRSYNC = 1, 2, 4, 8, 16, 32, 64, 128
NOSYMFOLLOW, NOATIME, NODIRATIME, BIND, REC, SILENT = 256, 1024, 2048, 4096, 16384, 32768
UNBINDABLE, PRIVATE, SLAVE, SHARED = 1 << 17, 1 << 18, 1 << 19, 1 << 20
RELATIME, IVERSION, STRICTATIME, LAZYTIME = 1 << 21, 1 << 23, 1 << 24, 1 << 25
A_RDONLY, A_NOSUID, A_NODEV, A_NOEXEC, A_ATIME = 0x1, 0x2, 0x4, 0x8, 0x70
A_NOATIME, A_STRICTATIME, A_NODIRATIME, A_NOSYMFOLLOW = 0x10, 0x20, 0x80, 0x200000

SETS = {
    "ro": RDONLY, "nosuid": NOSUID, "nodev": NODEV, "noexec": NOEXEC, "sync": SYNC, "remount": REMOUNT,
    "mand": MAND, "dirsync": DIRSYNC, "nosymfollow": NOSYMFOLLOW, "noatime": NOATIME,
    "nodiratime": NODIRATIME, "bind": BIND, "rbind": BIND | REC, "silent": SILENT, "relatime": RELATIME,
    "iversion": IVERSION, "strictatime": STRICTATIME, "lazytime": LAZYTIME,
}
CLEARS = {
    "rw": RDONLY, "suid": NOSUID, "dev": NODEV, "exec": NOEXEC, "async": SYNC, "nomand": MAND,
    "symfollow": NOSYMFOLLOW, "atime": NOATIME, "diratime": NODIRATIME, "loud": SILENT,
    "norelatime": RELATIME, "noiversion": IVERSION, "nostrictatime": STRICTATIME, "nolazytime": LAZYTIME,
}
PROPAGATIONS = {
    "private": PRIVATE, "rprivate": PRIVATE | REC, "shared": SHARED, "rshared": SHARED | REC,
    "slave": SLAVE, "rslave": SLAVE | REC, "unbindable": UNBINDABLE, "runbindable": UNBINDABLE | REC,
}
RECURSIVE = {  # option -> (attr_set, attr_clr)
    "rro": (A_RDONLY, 0), "rrw": (0, A_RDONLY), "rnosuid": (A_NOSUID, 0), "rsuid": (0, A_NOSUID),
    "rnodev": (A_NODEV, 0), "rdev": (0, A_NODEV), "rnoexec": (A_NOEXEC, 0), "rexec": (0, A_NOEXEC),
    "rnodiratime": (A_NODIRATIME, 0), "rdiratime": (0, A_NODIRATIME), "rrelatime": (0, A_ATIME),
    "rnorelatime": (0, 0), "rnoatime": (A_NOATIME, A_ATIME), "ratime": (0, A_NOATIME),
    "rstrictatime": (A_STRICTATIME, A_ATIME), "rnostrictatime": (0, A_STRICTATIME),
    "rnosymfollow": (A_NOSYMFOLLOW, 0), "rsymfollow": (0, A_NOSYMFOLLOW),
}


@pytest.mark.parametrize("option,bits", sorted(SETS.items()))
def test_flag_options_set_their_bit(option: str, bits: int) -> None:
    opts = parse_mount_options([option])
    assert (opts.flags, opts.cleared, opts.data) == (bits, 0, "")


@pytest.mark.parametrize("option,bit", sorted(CLEARS.items()))
def test_clearing_options_undo_an_earlier_flag(option: str, bit: int) -> None:
    setter = next(name for name, value in SETS.items() if value == bit)
    opts = parse_mount_options([setter, option])
    assert opts.flags == 0 and opts.cleared == bit
    # ...and a later setter wins again
    assert parse_mount_options([option, setter]).flags == bit


@pytest.mark.parametrize("option,flag", sorted(PROPAGATIONS.items()))
def test_propagation_options_are_queued_not_flags(option: str, flag: int) -> None:
    opts = parse_mount_options(["bind", option])
    assert opts.flags == BIND and opts.propagation == (flag,)


def test_propagation_keeps_order() -> None:
    assert parse_mount_options(["rshared", "private"]).propagation == (SHARED | REC, PRIVATE)


@pytest.mark.parametrize("option,attrs", sorted(RECURSIVE.items()))
def test_recursive_options_become_mount_setattr_attributes(option: str, attrs: tuple[int, int]) -> None:
    opts = parse_mount_options(["rbind", option])
    assert (opts.rec_set, opts.rec_clr) == attrs
    assert opts.flags == BIND | REC


def test_last_recursive_atime_mode_wins() -> None:
    opts = parse_mount_options(["rnoatime", "rstrictatime"])
    assert opts.rec_set == A_STRICTATIME and opts.rec_clr == A_ATIME


def test_unknown_options_are_data_in_order_and_defaults_is_a_no_op() -> None:
    opts = parse_mount_options(["nosuid", "mode=755", "defaults", "size=65536k", "acl"])
    assert opts.flags == NOSUID and opts.data == "mode=755,size=65536k,acl"


def test_tmpcopyup_is_an_extension_not_data() -> None:
    opts = parse_mount_options(["tmpcopyup", "mode=1777"])
    assert opts.copyup and opts.data == "mode=1777"


@pytest.mark.parametrize("option", ["idmap", "ridmap"])
def test_idmap_is_refused_naming_the_option(option: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_mount_options(["rbind", option], "mounts[3].options")
    assert info.value.path == "mounts[3].options[1]"
    assert str(info.value).startswith("config.json: mounts[3].options[1]: ")


def test_non_string_option_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_mount_options(["ro", 7], "mounts[0].options")
    assert info.value.path == "mounts[0].options[1]"


def test_supported_options_cover_the_spec_table_but_not_idmap() -> None:
    spec_table = set(SETS) | set(CLEARS) | set(PROPAGATIONS) | set(RECURSIVE) | {"defaults", "tmpcopyup"}
    assert spec_table <= SUPPORTED_MOUNT_OPTIONS
    assert not {"idmap", "ridmap"} & SUPPORTED_MOUNT_OPTIONS


@pytest.mark.parametrize(
    "options,expected",
    [
        (["bind"], (0, 0)),
        (["bind", "ro"], (A_RDONLY, 0)),
        (["bind", "rw"], (0, A_RDONLY)),
        (["bind", "nosuid", "nodev", "noexec"], (A_NOSUID | A_NODEV | A_NOEXEC, 0)),
        (["bind", "suid", "dev", "exec"], (0, A_NOSUID | A_NODEV | A_NOEXEC)),
        (["bind", "noatime"], (A_NOATIME, A_ATIME)),
        (["bind", "strictatime"], (A_STRICTATIME, A_ATIME)),
        (["bind", "relatime"], (0, A_ATIME)),
        (["bind", "norelatime"], (0, A_ATIME)),
        (["bind", "nodiratime", "nosymfollow"], (A_NODIRATIME | A_NOSYMFOLLOW, 0)),
        (["bind", "sync", "dirsync", "lazytime"], (0, 0)),  # superblock flags: nothing per mount
    ],
)
def test_bind_attrs_change_only_what_the_options_name(options: list[str], expected: tuple[int, int]) -> None:
    assert bind_attrs(parse_mount_options(options)) == expected
