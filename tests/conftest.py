"""Shared pytest fixtures: the runtime under test, bundles, container ids and the leak checker.

Runtime: ``$OCI_RUNTIME`` (default /usr/local/bin/ociruntime). Tests marked ``ours_only``
(where ociruntime deliberately differs from runc: its own error texts, extra validation) are
deselected when the runtime's basename is ``runc``, so the suite doubles as a check of the
tests against the reference. Every session uses a private ``--root`` and a session tag that
is part of every container id and temp path. ``OCI_KEEP_TMP=1`` keeps the session's temp
dir; ``OCI_LEAK_STRICT=1`` counts every new mount/cgroup/ociruntime process as a leak.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import leaks, procs
from helpers.bundle import Bundle, build_template
from helpers.runtime import Runtime, is_runc, runtime_path

# Suites whose every test gets the leak checker (others opt in with @pytest.mark.leak_check).
LEAK_CHECKED_SUITES = ("integration", "faults", "stress", "clients")
ENV_MARKER_KEY = "OCI_TEST_SESSION"


def pytest_report_header(config: pytest.Config) -> list[str]:
    path = runtime_path()
    strict = "strict" if os.environ.get("OCI_LEAK_STRICT") == "1" else "session-scoped"
    return [f"runtime under test: {path} (OCI_RUNTIME); leak checker: {strict}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not is_runc(runtime_path()):
        return
    deselected = [item for item in items if item.get_closest_marker("ours_only")]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker("ours_only")]
        config.hook.pytest_deselected(items=deselected)
    config.stash[_OURS_ONLY_DESELECTED] = len(deselected)


_OURS_ONLY_DESELECTED = pytest.StashKey[int]()


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    count = config.stash.get(_OURS_ONLY_DESELECTED, None)
    if count is None:
        return []
    return [f"runtime is runc: deselected {count} ours_only tests"]


# --- session -------------------------------------------------------------------------------

@dataclass
class Session:
    tag: str
    base: Path
    template: Path
    runtime_path: str
    scope: leaks.Scope
    ids: Iterator[int]


@pytest.fixture(scope="session")
def session() -> Iterator[Session]:
    path = runtime_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"runtime {path} not found: `make install` or set OCI_RUNTIME", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the integration tests create containers and must run as root", pytrace=False)
    tag = "oct" + secrets.token_hex(3)
    # Our own temp dir, not pytest's 0700 one: a container root in a user namespace must be
    # able to reach the bundle.
    base = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "root"
    root.mkdir()
    template = build_template(base / "template")
    procs.become_subreaper()
    scope = leaks.Scope(tag=tag, root=root, env_marker=(ENV_MARKER_KEY, tag),
                        strict=os.environ.get("OCI_LEAK_STRICT") == "1")
    yield Session(tag, base, template, path, scope, itertools.count())
    for state in leaks.read_states(root):
        subprocess.run([path, "--root", str(root), "delete", "--force", state],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    procs.reap_zombie_children()
    if os.environ.get("OCI_KEEP_TMP") != "1":
        shutil.rmtree(base, ignore_errors=True)


def _slug(name: str, limit: int) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:limit].rstrip("-.")


# --- per test ------------------------------------------------------------------------------

@pytest.fixture
def test_dir(session: Session, request: pytest.FixtureRequest) -> Path:
    """A fresh directory for this test, readable by everyone (user namespaces need that)."""
    path = session.base / "tests" / f"{_slug(request.node.name, 60)}-{next(session.ids)}"
    path.mkdir(parents=True)
    path.chmod(0o755)
    return path


@pytest.fixture
def runtime(session: Session, test_dir: Path) -> Runtime:
    """The runtime under test: ``runtime.call(verb, ...)`` plus verb helpers, all with --root."""
    io_dir = test_dir / "io"
    io_dir.mkdir()
    return Runtime(session.runtime_path, session.scope.root, io_dir, session.scope.env_marker)


@pytest.fixture
def bundle(session: Session, test_dir: Path) -> Bundle:
    """A fresh busybox bundle; edit ``bundle.config`` (saved automatically on create/run)."""
    return Bundle(test_dir / "bundle", session.template)


@pytest.fixture
def make_bundle(session: Session, test_dir: Path) -> Callable[[str], Bundle]:
    """Factory for extra bundles in one test: ``make_bundle("second")``."""
    return lambda name: Bundle(test_dir / name, session.template)


@pytest.fixture
def make_id(session: Session, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Factory of unique container ids carrying the session tag."""
    slug = _slug(request.node.name.removeprefix("test_"), 24)
    return lambda: f"{session.tag}-{slug}-{next(session.ids)}"


@pytest.fixture
def container_id(make_id: Callable[[], str]) -> str:
    return make_id()


@pytest.fixture
def leak_scope(session: Session) -> leaks.Scope:
    return session.scope


@pytest.fixture
def leak_check(session: Session) -> Iterator[None]:
    """Fail the test if it left a mount, cgroup dir, process, state dir or fd behind, then
    remove what it left so one failure does not cascade into the next tests."""
    before = leaks.snapshot(session.scope)
    yield
    found = leaks.check(before, session.scope)
    if found:
        problems = leaks.cleanup(found, session.scope, session.runtime_path)
        message = found.report()
        if problems:
            message += "\ncould not clean: " + "; ".join(problems)
        pytest.fail(message, pytrace=False)


@pytest.fixture(autouse=True)
def _leak_guard(request: pytest.FixtureRequest) -> None:
    rel = Path(str(request.node.path)).relative_to(Path(__file__).parent)
    suite = rel.parts[0] if len(rel.parts) > 1 else ""
    if suite in LEAK_CHECKED_SUITES or request.node.get_closest_marker("leak_check"):
        request.getfixturevalue("leak_check")
