"""TAP counting and the fully-passing verdict of the conformance harness (conformance/tap.py)."""

from __future__ import annotations

from conformance.tap import judge, parse_tap

# Shapes copied from what the runtime-tools tests print (tap-go: YAML blocks are JSON
# under a two-space prefix).
CREATE_PASSING = """TAP version 13
ok 1 - create MUST generate an error if the ID is not provided
  ---
  {
    "error": "exit status 1",
    "reference": "https://github.com/opencontainers/runtime-spec/blob/v1.3.0/runtime.md#create"
  }
  ...
ok 2 - create MUST create a new container
1..2
"""

HOOK_FAILING = """TAP version 13
  ---
  {
    "error": "Pre-start hooks MUST be called after the `start` operation is called\\nRefer to: x"
  }
  ...
1..0
"""

NESTED_ERROR_ONLY = """TAP version 13
  ---
  {
    "stdout": "not ok 3 - inner",
    "detail": {
      "error": "nested, not top-level"
    }
  }
  ...
1..0
"""

TWO_STREAMS = """TAP version 13
ok 1 - hugepage limit is set correctly for size: 2MB
ok 2 # SKIP no 1GB pages
1..2
TAP version 13
not ok 1 - hugepage invalid pagesize results in an errror
1..1
"""


def test_error_under_an_ok_line_explains_it_and_does_not_fail_the_file() -> None:
    counts = parse_tap(CREATE_PASSING)
    assert (counts.ok, counts.not_ok, counts.skip) == (2, 0, 0)
    assert counts.stream_errors == []
    assert judge(counts, 0, False).passed


def test_hook_test_error_diagnostic_fails_the_file_without_assertions() -> None:
    counts = parse_tap(HOOK_FAILING)
    assert counts.total == 0
    assert counts.stream_errors == ["Pre-start hooks MUST be called after the `start` operation is called\nRefer to: x"]
    verdict = judge(counts, 0, False)
    assert not verdict.passed
    assert verdict.problems == ("error diagnostic",)


def test_only_a_top_level_error_key_counts() -> None:
    counts = parse_tap(NESTED_ERROR_ONLY)
    assert counts.stream_errors == []
    assert counts.not_ok == 0  # "not ok" inside a JSON string is not an assertion
    assert judge(counts, 0, False).passed


def test_every_stream_is_counted_and_skips_are_oks() -> None:
    counts = parse_tap(TWO_STREAMS)
    assert counts.streams == 2
    assert (counts.ok, counts.not_ok, counts.skip) == (2, 1, 1)
    assert counts.not_ok_lines == ["not ok 1 - hugepage invalid pagesize results in an errror"]


def test_error_block_after_an_assertion_of_a_later_stream_is_not_stream_level() -> None:
    text = "TAP version 13\nok 1 - a\n1..1\nTAP version 13\nok 1 - b\n  ---\n  {\n    \"error\": \"x\"\n  }\n  ...\n1..1\n"
    assert parse_tap(text).stream_errors == []


def test_error_block_at_the_start_of_a_second_stream_is_stream_level() -> None:
    text = "TAP version 13\nok 1 - a\n1..1\nTAP version 13\n  ---\n  {\n    \"error\": \"boom\"\n  }\n  ...\n1..0\n"
    assert parse_tap(text).stream_errors == ["boom"]


def test_non_zero_exit_fails_even_with_all_ok() -> None:
    counts = parse_tap("TAP version 13\nok 1 - x\n1..1\n")
    verdict = judge(counts, 1, False)
    assert not verdict.passed
    assert verdict.problems == ("exit 1",)


def test_empty_output_with_exit_zero_passes() -> None:
    # process_rlimits_fail and process_capabilities_fail print no TAP: exit 0 means pass.
    assert judge(parse_tap(""), 0, False).passed


def test_timeout_is_reported_instead_of_an_exit_code() -> None:
    verdict = judge(parse_tap("TAP version 13\nok 1 - x\n"), None, True)
    assert verdict.problems == ("timeout",)
    assert verdict.name == "fail"


def test_runtime_stderr_lines_that_mention_ok_are_not_assertions() -> None:
    counts = parse_tap("TAP version 13\n# ok 1 - commented\n  ok 2 - indented\nokay\n1..0\n")
    assert counts.total == 0
