"""Render JSON paths the way error messages show them: ``linux.namespaces[2].type``."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_identifier(key: str) -> bool:
    return bool(key) and not key[0].isdigit() and all(c in _IDENTIFIER_CHARS for c in key)


def format_path(parts: Iterable[str | int]) -> str:
    """``("linux", "sysctl", "net.ipv4.ip_forward")`` -> ``linux.sysctl["net.ipv4.ip_forward"]``.

    Keys that are not plain identifiers (sysctl names, annotation keys) are quoted in
    brackets so the path stays unambiguous.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _is_identifier(part):
            out.append(f".{part}" if out else part)
        else:
            out.append("[" + quote(part) + "]")
    return "".join(out)


def quote(value: object, limit: int = 80) -> str:
    """A JSON rendering of a value for a one-line message, shortened when long."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
