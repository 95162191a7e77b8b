"""Extended-attribute marks on cgroup directories ociruntime made or changed.

A parent directory created for one container may be shared by a second one; whichever is
deleted last can then remove it, because the mark says ociruntime made it (a directory
without the mark is never removed). Likewise a controller we enabled in a cgroup v2
parent's subtree_control is disabled again once that parent has no children left, so
the host is left as it was (a controller enabled in cgroup v2 cannot be mounted on v1).
All marks are best effort: without xattr support we fall back to what state.json lists.
"""

from __future__ import annotations

import posix

CREATED = "trusted.ociruntime.created"
ENABLED = "trusted.ociruntime.enabled"


def mark_created(path: str) -> None:
    try:
        posix.setxattr(path, CREATED, b"1")
    except OSError:
        pass


def is_created(path: str) -> bool:
    try:
        return posix.getxattr(path, CREATED) == b"1"
    except OSError:
        return False


def enabled(path: str) -> set[str]:
    try:
        return set(posix.getxattr(path, ENABLED).decode().split())
    except OSError:
        return set()


def add_enabled(path: str, controller: str) -> None:
    try:
        posix.setxattr(path, ENABLED, " ".join(sorted(enabled(path) | {controller})).encode())
    except OSError:
        pass


def clear_enabled(path: str) -> None:
    try:
        posix.removexattr(path, ENABLED)
    except OSError:
        pass
