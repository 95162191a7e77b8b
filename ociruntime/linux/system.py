"""Host/domain name, session keyring and fd-table operations of the current process."""

from __future__ import annotations

import errno
import os

from ociruntime.linux._lib import check, ffi, fsencode, lib, os_error

CLOSE_RANGE_UNSHARE: int = lib.CLOSE_RANGE_UNSHARE
CLOSE_RANGE_CLOEXEC: int = lib.CLOSE_RANGE_CLOEXEC
MAX_FD: int = 2**32 - 1

# keyctl(2) permission bits (linux/key.h; not in the uapi headers)
KEY_POS_VIEW = 0x01000000
KEY_POS_READ = 0x02000000
KEY_POS_WRITE = 0x04000000
KEY_POS_SEARCH = 0x08000000
KEY_POS_LINK = 0x10000000
KEY_POS_SETATTR = 0x20000000
KEY_POS_ALL = 0x3F000000
KEY_USR_VIEW = 0x00010000
KEY_USR_SEARCH = 0x00080000
KEY_GRP_SEARCH = 0x00000800
KEY_OTH_SEARCH = 0x00000008


def sethostname(name: str) -> None:
    """sethostname(2) in the current UTS namespace."""
    raw = fsencode(name, "sethostname")
    ret = lib.ocr_sethostname(raw, len(raw))
    if ret < 0:
        check(ret, f"sethostname {name!r}")


def setdomainname(name: str) -> None:
    """setdomainname(2) in the current UTS namespace."""
    raw = fsencode(name, "setdomainname")
    ret = lib.ocr_setdomainname(raw, len(raw))
    if ret < 0:
        check(ret, f"setdomainname {name!r}")


def join_session_keyring(name: str | None) -> int:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING): join (or create) the named session
    keyring, a new anonymous one for None. Returns its serial.

    runc does this for every container (name "_ses.<id>") unless --no-new-keyring,
    and ignores ENOSYS (kernels without keyrings): callers should do the same.
    """
    cname = ffi.NULL if name is None else ffi.new("char[]", fsencode(name, "join_session_keyring"))
    ret = lib.ocr_join_session_keyring(cname)
    return check(ret, f"join session keyring {name!r}" if name is not None else "join anonymous session keyring")


def describe_key(serial: int) -> str:
    """keyctl(KEYCTL_DESCRIBE): "type;uid;gid;perm;description" (perm in hex)."""
    size = 256
    while True:
        buf = ffi.new("char[]", size)
        ret = check(lib.ocr_keyctl_describe(serial, buf, size), f"describe key {serial}")
        if ret <= size:
            return ffi.string(buf).decode("utf-8", "surrogateescape")
        size = ret


def key_permissions(serial: int) -> int:
    """The permission mask of a key."""
    fields = describe_key(serial).split(";")
    if len(fields) < 5:
        raise os_error(errno.EINVAL, f"describe key {serial}: unexpected answer {';'.join(fields)!r}")
    return int(fields[3], 16)


def set_key_permissions(serial: int, keep_mask: int, add: int) -> None:
    """keyctl(KEYCTL_SETPERM) to (current & keep_mask) | add, as runc's
    ModKeyringPerm does to make the session keyring searchable."""
    perm = (key_permissions(serial) & keep_mask) | add
    ret = lib.ocr_keyctl_setperm(serial, perm & 0xFFFFFFFF)
    if ret < 0:
        check(ret, f"set permissions {perm:#x} on key {serial}")


def close_range(first: int, last: int = MAX_FD, cloexec: bool = False) -> None:
    """close_range(2): close fds first..last, or with cloexec mark them
    close-on-exec (so fds still needed until execve, such as a notify socket, keep working)."""
    flags = CLOSE_RANGE_CLOEXEC if cloexec else 0
    ret = lib.ocr_close_range(first, min(last, MAX_FD), flags)
    if ret < 0:
        check(ret, f"close_range {first}..{last}{' cloexec' if cloexec else ''}")


def set_ambient_capabilities(mask: int) -> None:
    """Make the ambient set exactly the bits of `mask`. OSError names the step that failed:
    its `filename` is None for the clear, else the capability number that could not be raised."""
    failed = ffi.new("int *")
    ret = lib.ocr_cap_ambient_set(mask, failed)
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), None if failed[0] < 0 else str(failed[0]))
