"""JSON for the hot path without importing the json package.

`import json` pulls in `re` and costs ~10 ms per verb here; the C scanner and string encoder
of the `_json` builtin module do the work json itself would do. Used for state.json, the
`state` output and log records; anything else may keep using json.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        raise ValueError(f"invalid JSON constant {name}")


_scan = _json.make_scanner(_ScanContext())
_WHITESPACE = " \t\n\r"


def loads(text: str | bytes) -> object:
    """Parse one JSON document; ValueError (as json does) when it is not exactly one."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _scan_document(_scan, text)


def loads_with(text: str, parse_float, parse_constant) -> object:  # noqa: ANN001 - callables
    """loads() with json.loads' parse_float / parse_constant hooks. ValueError (or
    RecursionError) without detail on bad input: callers that report errors re-parse
    with the json package to get its line and column."""
    context = _ScanContext()
    context.parse_float = parse_float  # type: ignore[misc,assignment]
    context.parse_constant = parse_constant  # type: ignore[method-assign]
    return _scan_document(_json.make_scanner(context), text)


def _scan_document(scan, text: str) -> object:  # noqa: ANN001 - a _json scanner
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except (StopIteration, ValueError, SystemError):
        # The C scanner builds its error from json.decoder, which we never imported: it
        # then fails without an exception set (SystemError). Either way: not JSON.
        raise ValueError("not a JSON document") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError("extra data after the JSON document")
    return value


def _unencodable(value: object) -> NoReturn:
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# json's own C encoder, as json.dumps(separators=(", ", ": ")) uses it: ~5x the Python below.
_encode_compact = _json.make_encoder(None, _unencodable, _json.encode_basestring_ascii, None,
                                     ": ", ", ", False, False, True)


def dumps(value: object, indent: int | None = None, _level: int = 0) -> str:
    """Encode dicts, lists, strings, numbers, booleans and None (what our state holds)."""
    if indent is None:
        return "".join(_encode_compact(value, 0))
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, dict):
        items = [f"{_json.encode_basestring_ascii(str(k))}: {dumps(v, indent, _level + 1)}"
                 for k, v in value.items()]
        return _wrap("{", "}", items, indent, _level)
    if isinstance(value, (list, tuple)):
        return _wrap("[", "]", [dumps(v, indent, _level + 1) for v in value], indent, _level)
    _unencodable(value)


def _wrap(opening: str, closing: str, items: list[str], indent: int | None, level: int) -> str:
    if not items:
        return opening + closing
    if indent is None:
        return opening + ", ".join(items) + closing
    inner = "\n" + " " * (indent * (level + 1))
    return opening + inner + ("," + inner).join(items) + "\n" + " " * (indent * level) + closing
