"""Native tests: the C extension against the real kernel, as root."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from native.support import mountinfo


@pytest.fixture(autouse=True)
def _require_root() -> None:
    # These tests exercise the real kernel as root; failing loudly beats skipping.
    assert os.geteuid() == 0, "native tests must run as root"


@pytest.fixture(autouse=True)
def _no_mount_leaks() -> Iterator[None]:
    before = {(m.mount_point, m.fstype) for m in mountinfo()}
    yield
    after = {(m.mount_point, m.fstype) for m in mountinfo()}
    assert after - before == set(), "test leaked mounts into the host namespace"

