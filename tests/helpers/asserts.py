"""Assertions about runtime errors shared by the integration suites."""

from __future__ import annotations

from .runtime import Result


def error_line(result: Result, code: int = 1) -> str:
    """Assert exit ``code`` and exactly one line on stderr; return that line."""
    assert result.returncode == code, result.describe()
    lines = result.stderr_text().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}\n{result.describe()}"
    return lines[0]


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> str:
    line = error_line(result, code)
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_config_error(result: Result, paths: str | tuple[str, ...], *reason: str) -> str:
    """One stderr line ``... config.json: <path>: <reason>`` naming one of ``paths``, whose
    reason holds every fragment in ``reason`` (case-insensitive). Path ``""`` stands for the
    document as a whole: ``config.json: <reason>``."""
    line = error_line(result)
    candidates = (paths,) if isinstance(paths, str) else paths
    markers = [f"config.json: {p}: " if p else "config.json: " for p in candidates]
    marker = next((m for m in markers if m in line), None)
    assert marker is not None, f"none of {candidates} named as 'config.json: <path>: ' in {line!r}"
    why = line.split(marker, 1)[1].lower()
    for fragment in reason:
        assert fragment.lower() in why, f"{fragment!r} not in the reason {why!r} ({line!r})"
    return line
