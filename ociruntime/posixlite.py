"""The few os.path and os.environ helpers the short verbs need, on the posix module.

`import os` costs ~1 ms per process here (os.environ is built on _collections_abc, whose
ABCs are made at import), a tenth of a `state`. The modules on the state, start, kill and
delete paths therefore call the posix module (os re-exports the same functions) and these
helpers, which follow posixpath's semantics for the cases they accept; tests/unit/
test_posixlite.py checks them against os.path, and test_imports.py that os stays out.
"""

from __future__ import annotations

import posix
from _stat import S_ISDIR

TYPE_CHECKING = False  # typing/collections.abc stay off the short verbs' path
if TYPE_CHECKING:
    from collections.abc import Callable


def join(first: str, *rest: str) -> str:
    """posixpath.join: an absolute part starts over, one slash between parts."""
    path = first
    for part in rest:
        if part.startswith("/"):
            path = part
        elif not path or path.endswith("/"):
            path += part
        else:
            path += "/" + part
    return path


def split(path: str) -> tuple[str, str]:
    """posixpath.split: (head without trailing slashes unless it is all slashes, tail)."""
    cut = path.rfind("/") + 1
    head, tail = path[:cut], path[cut:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def dirname(path: str) -> str:
    return split(path)[0]


def exists(path: str) -> bool:
    return _stat_or_none(posix.stat, path) is not None


def lexists(path: str) -> bool:
    """True for a dangling symlink too."""
    return _stat_or_none(posix.lstat, path) is not None


def isdir(path: str) -> bool:
    info = _stat_or_none(posix.stat, path)
    return info is not None and S_ISDIR(info.st_mode)


def _stat_or_none(stat: Callable[[str], posix.stat_result], path: str) -> posix.stat_result | None:
    try:
        return stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path (os.path says False)
        return None


def getenv(name: str) -> str | None:
    """os.environ.get(name): posix.environ holds bytes, decoded as os does."""
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode("utf-8", "surrogateescape")
