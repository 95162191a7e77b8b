"""Loads the compiled extension once and checks it was built from this package.

A stale ``_native`` (built from another version) would silently disagree with
the Python side, so importing it fails loudly instead (as pynacl and
cryptography do).
"""

from __future__ import annotations

import os

from ociruntime import __version__

try:
    from ociruntime.linux._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "ociruntime.linux._native is not built; run `make build` "
        "(or `python setup.py build_ext --inplace`) in the source tree"
    ) from exc

BUILT_VERSION: str = ffi.string(lib.ocr_version()).decode()
if BUILT_VERSION != __version__:
    raise ImportError(
        f"ociruntime.linux._native was built for ociruntime {BUILT_VERSION} but the package "
        f"is {__version__}; rebuild it with `make build`"
    )

__all__ = ["ffi", "lib", "check", "os_error", "fsencode"]


def os_error(errno: int, what: str) -> OSError:
    """OSError whose message says what failed, with which arguments, and why."""
    return OSError(errno, f"{what}: {os.strerror(errno)}")


def check(ret: int, what: str) -> int:
    """Return ret unless it is -errno, in which case raise with context."""
    if ret < 0:
        raise os_error(-ret, what)
    return ret


def fsencode(value: str | bytes, what: str) -> bytes:
    """Encode a path or argument for C; NUL bytes would silently truncate it."""
    encoded = os.fsencode(value)
    if b"\0" in encoded:
        raise ValueError(f"{what}: embedded NUL byte in {value!r}")
    return encoded


def optional_cstr(value: str | bytes | None, what: str) -> object:
    """A char* for C: NULL for None, else a NUL-terminated copy."""
    if value is None:
        return ffi.NULL
    return ffi.new("char[]", fsencode(value, what))
