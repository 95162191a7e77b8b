"""The hand-written pattern checks of ociruntime.spec.patterns agree with `re` (as the
compiled validator would have used it), and the compiled validator needs no `re`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ociruntime.spec import patterns

REPO = Path(__file__).resolve().parents[2]
# Strings built from the characters the patterns care about, plus a few others.
ALPHABET = st.sampled_from(list("0123456789,- KMGBRLIMT_AZcbupx:\n\tÅ٣"))
texts = st.lists(ALPHABET, max_size=12).map("".join) | st.text(max_size=12)


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern[:-1] + "\\Z" if pattern.endswith("$") else pattern)


@pytest.mark.parametrize("pattern", sorted(patterns.FAST_CHECKS))
@settings(max_examples=400, deadline=None)
@given(text=texts)
@example(text="RLIMIT_NOFILE")
@example(text="RLIMIT_")
@example(text="RLIMIT_NOFILE\n")
@example(text="2MB")
@example(text="02MB")
@example(text="1GB\n")
@example(text="MB:0=20\n")
@example(text="0-3, 5")
@example(text="")
@example(text="c")
@example(text="٣MB")
def test_fast_check_agrees_with_re(pattern: str, text: str) -> None:
    assert patterns.FAST_CHECKS[pattern](text) == bool(_regex(pattern).search(text))


def test_table_uses_fast_checks_and_compiles_unknown_patterns_lazily() -> None:
    table = patterns.table({"^RLIMIT_[A-Z]+$": "^RLIMIT_[A-Z]+\\Z", "^a+$": "^a+\\Z"})
    assert table["^RLIMIT_[A-Z]+$"].search("RLIMIT_CPU")
    assert "^a+$" not in dict.keys(table)  # not compiled until asked for
    assert table["^a+$"].search("aaa") and not table["^a+$"].search("aab")


def test_every_schema_pattern_has_a_fast_check_and_the_validator_imports_no_re() -> None:
    generated = (REPO / "ociruntime/spec/_compiled_validator.py").read_text()
    used = set(re.findall(r"REGEX_PATTERNS\['((?:[^'\\]|\\.)*)'\]", generated))
    assert used, "the schema has patterns: the generated code should look them up"
    assert {u.encode().decode("unicode_escape") for u in used} <= set(patterns.FAST_CHECKS)
    code = ("import sys; sys.path.insert(0, %r); import ociruntime.spec._compiled_validator; "
            "print('re' in sys.modules)" % str(REPO))
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
