"""The schema's `pattern` keywords as plain string checks, for the compiled validator.

`import re` plus compiling the schema's five patterns costs ~10 ms on every `create`; each
pattern here is a few string operations. The generated validator looks patterns up in
`table()`: a pattern without a hand-written check is compiled with `re` on first use, so a
schema change can never be silently mis-checked (tests/unit/test_spec_patterns.py checks
each hand-written one against `re` on random strings).
"""

from __future__ import annotations

_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CPU_LIST = frozenset("0123456789, -")


def _mem_bw_schema(s: str) -> bool:  # ^MB:[^\n]*$
    return s.startswith("MB:") and "\n" not in s


def _page_size(s: str) -> bool:  # ^[1-9][0-9]*[KMG]B$
    return (len(s) >= 3 and s[-1] == "B" and s[-2] in "KMG" and s[0] in "123456789"
            and _DIGITS.issuperset(s[1:-2]))


def _device_type(s: str) -> bool:  # ^[cbup]$
    return s in ("c", "b", "u", "p")


def _cpu_list(s: str) -> bool:  # ^[0-9, -]*$
    return _CPU_LIST.issuperset(s)


def _rlimit_type(s: str) -> bool:  # ^RLIMIT_[A-Z]+$
    return len(s) > 7 and s.startswith("RLIMIT_") and _UPPER.issuperset(s[7:])


# Keyed by the schema's own pattern text (what fastjsonschema's generated code looks up).
FAST_CHECKS = {
    "^MB:[^\\n]*$": _mem_bw_schema,
    "^[1-9][0-9]*[KMG]B$": _page_size,
    "^[cbup]$": _device_type,
    "^[0-9, -]*$": _cpu_list,
    "^RLIMIT_[A-Z]+$": _rlimit_type,
}


class _Check:
    """Duck-types the one method the generated code calls on a compiled pattern."""

    __slots__ = ("_check",)

    def __init__(self, check) -> None:  # noqa: ANN001 - a str -> bool function
        self._check = check

    def search(self, text: str) -> bool:
        return self._check(text)


class _Patterns(dict):
    def __init__(self, sources: dict[str, str]) -> None:
        super().__init__()
        self._sources = sources
        for pattern in sources:
            if pattern in FAST_CHECKS:
                self[pattern] = _Check(FAST_CHECKS[pattern])

    def __missing__(self, pattern: str):  # noqa: ANN204 - a re.Pattern
        import re

        compiled = re.compile(self._sources[pattern])
        self[pattern] = compiled
        return compiled


def table(sources: dict[str, str]) -> dict:
    """schema pattern -> object with .search(); `sources` maps each pattern to the regex
    source fastjsonschema would compile ($ already turned into \\Z)."""
    return _Patterns(sources)
