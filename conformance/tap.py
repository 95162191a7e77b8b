"""Reads the TAP that one runtime-tools validation test prints, and gives its verdict.

What is counted (the rules of issue 3, matching how the anchors were measured):
- assertions are top-level lines `ok ...` / `not ok ...` starting in column 0; lines of
  runtimetest output nested inside YAML blocks are JSON strings and never start a line;
- `ok N # SKIP ...` is an ok line and is also counted as a skip;
- a file may hold several TAP streams (linux_cgroups_cpus and linux_cgroups_hugetlb print
  two); all are counted;
- a *stream-level error diagnostic* is a YAML block with a top-level "error" key that is
  attached to no assertion: it comes before the first `ok`/`not ok` of its stream. That
  is how the hook tests (plan `1..0`, no assertions) report failure. YAML blocks that
  follow an assertion only explain it (create's expected-failure cases print an "error"
  under an `ok`), so they do not count.

A file is fully passing when it exited 0, has no `not ok` and no stream-level error
diagnostic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_ASSERTION = re.compile(r"^(not ok|ok)\b(.*)$")
_SKIP = re.compile(r"#\s*skip\b", re.IGNORECASE)
_VERSION = re.compile(r"^TAP version \d+")
_YAML_START = "  ---"
_YAML_END = "  ..."
# tap-go marshals YAML blocks as JSON indented by two spaces under a two-space prefix,
# so a top-level key sits at exactly four spaces.
_TOP_LEVEL_ERROR_KEY = re.compile(r'^    "error":')


@dataclass
class TapCounts:
    ok: int = 0
    not_ok: int = 0
    skip: int = 0
    streams: int = 0
    stream_errors: list[str] = field(default_factory=list)
    not_ok_lines: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.not_ok


def parse_tap(text: str) -> TapCounts:
    counts = TapCounts()
    assertions_in_stream = 0
    yaml_lines: list[str] | None = None
    for line in text.splitlines():
        if yaml_lines is not None:
            if line.rstrip() == _YAML_END:
                if assertions_in_stream == 0:
                    _collect_stream_error(yaml_lines, counts)
                yaml_lines = None
            else:
                yaml_lines.append(line)
            continue
        if line.rstrip() == _YAML_START:
            yaml_lines = []
            continue
        if _VERSION.match(line):
            counts.streams += 1
            assertions_in_stream = 0
            continue
        match = _ASSERTION.match(line)
        if match is None:
            continue
        assertions_in_stream += 1
        if match.group(1) == "ok":
            counts.ok += 1
            if _SKIP.search(match.group(2)):
                counts.skip += 1
        else:
            counts.not_ok += 1
            counts.not_ok_lines.append(line)
    return counts


def _collect_stream_error(yaml_lines: list[str], counts: TapCounts) -> None:
    if not any(_TOP_LEVEL_ERROR_KEY.match(line) for line in yaml_lines):
        return
    try:
        message = str(json.loads("\n".join(yaml_lines)).get("error", ""))
    except (ValueError, AttributeError):
        message = next(line for line in yaml_lines if _TOP_LEVEL_ERROR_KEY.match(line)).strip()
    counts.stream_errors.append(message)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    problems: tuple[str, ...]

    @property
    def name(self) -> str:
        return "pass" if self.passed else "fail"


def judge(counts: TapCounts, exit_code: int | None, timed_out: bool) -> Verdict:
    """Fully passing = exit 0, no `not ok`, no stream-level error diagnostic."""
    problems: list[str] = []
    if timed_out:
        problems.append("timeout")
    elif exit_code != 0:
        problems.append(f"exit {exit_code}")
    if counts.not_ok:
        problems.append(f"{counts.not_ok} not ok")
    if counts.stream_errors:
        problems.append("error diagnostic")
    return Verdict(passed=not problems, problems=tuple(problems))
