"""conformance.machine on the real cgroupfs: moving hugetlb off cgroup2 and back.

Groups left by others may keep hugetlb enabled in cgroup2 subtree_control (this VM's
snapshot carries some), which blocks moving it to v1. The preparation disables it there
when nothing uses it and enables it again on restore; with a real limit set it refuses.
Each test uses its own cgroup2 group and journal, and puts the root's subtree_control
back the way it found it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import machine

ROOT2 = machine._cgroup2_root()
pytestmark = pytest.mark.skipif(
    ROOT2 is None or "hugetlb" not in machine._read_words(ROOT2 / "cgroup.controllers"),
    reason="needs hugetlb on a cgroup2 mount (this VM's hybrid layout)")


def _subtree(path: Path) -> set[str]:
    return machine._read_words(path / "cgroup.subtree_control")


@pytest.fixture
def foreign_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cgroup2 group reached by hugetlb, as another tool would leave it."""
    assert ROOT2 is not None
    monkeypatch.setattr(machine, "STATE_DIR", tmp_path)
    monkeypatch.setattr(machine, "JOURNAL", tmp_path / "machine.json")
    root_had_hugetlb = "hugetlb" in _subtree(ROOT2)
    (ROOT2 / "cgroup.subtree_control").write_text("+hugetlb")
    group = ROOT2 / f"ocrtest-{secrets.token_hex(4)}"
    group.mkdir()
    try:
        yield group
    finally:
        leftover = machine.Preparation.from_journal(settle_seconds=5)
        leftover.restore()
        group.rmdir()
        if not root_had_hugetlb:
            (ROOT2 / "cgroup.subtree_control").write_text("-hugetlb")
        assert ("hugetlb" in _subtree(ROOT2)) == root_had_hugetlb
        assert machine._hierarchy_id("hugetlb") == 0, "hugetlb left on a v1 hierarchy"


def test_unused_hugetlb_is_moved_to_v1_and_back(foreign_group: Path) -> None:
    assert ROOT2 is not None
    prep = machine.Preparation(settle_seconds=5)
    notes = prep.prepare()
    try:
        assert any("mounted v1 hugetlb" in n for n in notes), notes
        assert machine._hierarchy_id("hugetlb") != 0
        assert "hugetlb" not in _subtree(ROOT2)
        assert any(s.kind == "subtree_off" and s.path == str(ROOT2) for s in prep.steps)
    finally:
        problems = prep.restore()
    assert problems == []
    assert machine._hierarchy_id("hugetlb") == 0
    assert "hugetlb" in _subtree(ROOT2)
    assert list(foreign_group.glob("hugetlb.*.max")), "the group did not get hugetlb back"
    assert not machine.JOURNAL.exists()


def test_hugetlb_with_a_real_limit_is_left_alone(foreign_group: Path) -> None:
    assert ROOT2 is not None
    limit = sorted(foreign_group.glob("hugetlb.*.max"))[0]
    limit.write_text("0")
    prep = machine.Preparation(settle_seconds=5)
    try:
        notes = prep.prepare()
    finally:
        prep.restore()
    assert any("in use in" in n and str(foreign_group) in n for n in notes), notes
    assert machine._hierarchy_id("hugetlb") == 0
    assert "hugetlb" in _subtree(ROOT2)
    assert limit.read_text().strip() == "0", "the limit was dropped"
