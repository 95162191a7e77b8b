"""RESULTS.md rendering, reasons.json and expected.txt of the conformance harness."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import report, runner

CONFORMANCE = Path(__file__).resolve().parents[2] / "conformance"


def _result(verdict: str, ok: int, not_ok: int = 0, skip: int = 0, exit_code: int | None = 0,
            problems: list[str] | None = None) -> dict:
    r = {"verdict": verdict, "ok": ok, "not_ok": not_ok, "skip": skip, "exit": exit_code, "seconds": 0.5}
    if problems:
        r["problems"] = problems
    return r


def _document() -> dict:
    ours = {"default": _result("pass", 309, skip=39),
            "hooks": _result("fail", 0, problems=["error diagnostic"]),
            "start": _result("fail", 6, 1, problems=["1 not ok"])}
    theirs = {"default": _result("pass", 309, skip=39),
              "hooks": _result("fail", 0, problems=["error diagnostic"]),
              "start": _result("fail", 0, 0, exit_code=1, problems=["exit 1"])}
    runs = {}
    for label, tests in (("runc", theirs), ("ociruntime", ours)):
        runs[label] = {"runtime": label, "resolved": f"/usr/bin/{label}", "version": f"{label} 1.0",
                       "tests": tests, "summary": runner.summarize(tests)}
    return {"suite": {"module": "github.com/opencontainers/runtime-tools", "version": "v0"},
            "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:05:00+00:00",
            "machine": {"kernel": "6.18", "preparation": ["mounted v1 hugetlb"]},
            "timeout_seconds": 60.0, "runtimes": runs}


def test_render_puts_ociruntime_first_with_totals_and_reasons() -> None:
    reasons = {"hooks": {"class": "suite-bug", "why": "expected string | never matches"}}
    text = report.render(_document(), reasons)
    assert "| test | ociruntime | runc | why ociruntime does not fully pass |" in text
    assert "| test files fully passing | 1/3 | 1/3 |" in text
    assert "| TAP assertions ok / total | 315/316 | 309/309 |" in text
    assert "| default | pass 309/309 (39 skip) | pass 309/309 (39 skip) |  |" in text
    assert "| hooks | **fail** 0/0 (error diagnostic) | **fail** 0/0 (error diagnostic) | *suite bug*: expected string \\| never matches |" in text
    assert "| start | **fail** 6/7 | **fail** 0/0 (exit 1) | **unclassified** |" in text
    assert "suite bug 1, unclassified 1" in text


def test_summary_counts_files_and_assertions() -> None:
    summary = runner.summarize(_document()["runtimes"]["ociruntime"]["tests"])
    assert summary == {"files": 3, "fully_passing": 1, "ok": 315, "total": 316, "not_ok": 1,
                       "skip": 39, "seconds": 1.5}


def test_committed_reasons_are_well_formed() -> None:
    reasons = report.load_reasons(CONFORMANCE / "reasons.json")
    names = {line.split("/")[-1] for line in (CONFORMANCE / "go.mod").read_text().split()
             if "/validation/" in line}
    assert len(names) == 58
    assert report.reason_problems(reasons, names) == []


def test_expected_list_names_only_real_tests(tmp_path: Path) -> None:
    names = runner.read_expected(CONFORMANCE / "expected.txt")
    tool_lines = (CONFORMANCE / "go.mod").read_text().split()
    known = {line.split("/")[-1] for line in tool_lines if "/validation/" in line}
    assert set(names) <= known
    sample = tmp_path / "expected.txt"
    sample.write_text("# comment\ndefault  # trailing comment\n\nstate\n")
    assert runner.read_expected(sample) == ["default", "state"]


def test_committed_results_render_to_the_committed_markdown() -> None:
    results = CONFORMANCE / "results.json"
    document = json.loads(results.read_text())
    rendered = report.render(document, report.load_reasons(CONFORMANCE / "reasons.json"))
    assert rendered == (CONFORMANCE / "RESULTS.md").read_text(), "RESULTS.md is stale: run python -m conformance.report"
