"""ociVersion's SemVer check (plain string work, no `re` on create) agrees with the
semver.org reference pattern."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ociruntime.spec import checks

_IDENT = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
REFERENCE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                       rf"(?:-{_IDENT}(?:\.{_IDENT})*)?"
                       r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(list("0123456789.-+aZ٣ ")), max_size=14).map("".join))
@example("1.0.2-dev")
@example("1.0.0-0a.00")
@example("1.0.0-01")
@example("1.0.0-rc.1+build.5-x")
@example("1.0.0+")
@example("1.0.0-")
@example("1.0.0--")
def test_agrees_with_the_reference_pattern(version: str) -> None:
    match = REFERENCE.fullmatch(version)
    assert checks._semver_major(version) == (None if match is None else int(match.group(1)))


@pytest.mark.parametrize(("version", "major"), [("1.0.2", 1), ("1.3.0-rc.1+dev", 1), ("01.0.0", None),
                                                ("1.0", None), ("1.0.0.", None), ("١.0.0", None)])
def test_examples(version: str, major: int | None) -> None:
    assert checks._semver_major(version) == major
