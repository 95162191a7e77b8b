"""Fixtures for the engine tests: private containerd daemons (one plain for ctr, one with the
CRI plugin), a busybox image imported into them, and a leak check around every test.

The runtime under test is OCI_RUNTIME (default /usr/local/bin/ociruntime), as for every suite;
OCI_RUNTIME=/usr/sbin/runc runs the same tests against runc. These suites are machine-wide
(they start daemons): they take /tmp/ociruntime-engines.lock themselves, or reuse it when
started under ``flock /tmp/ociruntime-engines.lock ...`` (the lock's fd is then inherited).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engines import traces
from engines.containerd import Containerd, CriSettings, HostDirs, remove_tree
from engines.cri import CRICTL, Crictl, require_crictl
from engines.ctr import Ctr
from engines.oci_image import build_archive
from engines.session import CRI_HANDLER, K8S_NAMESPACE, EngineSession, cri_cgroup_parent
from helpers import procs
from helpers.runtime import runtime_path

LOCK_PATH = "/tmp/ociruntime-engines.lock"


def _inherited_lock_fd() -> int | None:
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == LOCK_PATH:
                return int(name)
        except OSError:
            continue
    return None


@pytest.fixture(scope="session")
def engines_lock() -> Iterator[None]:
    fd = _inherited_lock_fd()
    owned = fd is None
    if fd is None:
        fd = os.open(LOCK_PATH, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # same open file as flock(1)'s: already ours, no wait
    yield
    if owned:
        os.close(fd)


@pytest.fixture(scope="session")
def engine_session(engines_lock: None) -> Iterator[EngineSession]:
    path = runtime_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"runtime {path} not found: `make install` or set OCI_RUNTIME", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the engine tests start containerd and must run as root", pytrace=False)
    # The shims daemonize; as a subreaper we adopt them and reap them when they exit (the
    # host's PID 1 would leave them as zombies for a while).
    procs.become_subreaper()
    tag = "oce" + secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir="/tmp"))
    base.chmod(0o755)
    image = f"docker.io/library/ocibox:{tag}"
    archive = build_archive(base / "ocibox.tar", image)
    yield EngineSession(tag, base, path, image, archive)
    procs.reap_zombie_children()
    if os.environ.get("OCI_KEEP_TMP") != "1":
        remove_tree(base)


@pytest.fixture(scope="session")
def host_dirs(engines_lock: None) -> Iterator[HostDirs]:
    dirs = HostDirs()
    dirs.record()
    yield dirs
    problems = dirs.cleanup()
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def _start(daemon: Containerd) -> Containerd:
    try:
        daemon.start()
    except RuntimeError as exc:
        daemon.stop()
        pytest.fail(str(exc), pytrace=False)
    return daemon


def _stop(daemon: Containerd, cgroup_parent: str) -> None:
    problems = daemon.stop()
    problems += traces.remove_parent_cgroups(cgroup_parent)
    if problems:
        pytest.fail("containerd teardown: " + "; ".join(problems) + "\n" + daemon.log_tail(), pytrace=False)


# --- ctr ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def ctr_daemon(engine_session: EngineSession, host_dirs: HostDirs) -> Iterator[Containerd]:
    """containerd without the CRI plugin; the image is imported into namespace <tag>."""
    daemon = _start(Containerd(engine_session.base / "ctr", engine_session.runtime))
    daemon.ctr("image", "import", str(engine_session.archive), namespace=engine_session.tag)
    yield daemon
    Ctr(daemon, engine_session.tag, engine_session.image).force_remove_all()
    _stop(daemon, engine_session.tag)


@pytest.fixture
def ctr(ctr_daemon: Containerd, engine_session: EngineSession) -> Iterator[Ctr]:
    """ctr in the session's namespace (cgroups go to /<namespace>/<id>), with a leak check:
    the test must leave no task, runtime state, mount, cgroup, process or shim."""
    client = Ctr(ctr_daemon, engine_session.tag, engine_session.image)
    baseline_shims = set(ctr_daemon.shim_pids())
    mounts_before = set(traces.mounts_under(ctr_daemon.base))
    yield client
    _check_traces(ctr_daemon, engine_session.tag, baseline_shims, mounts_before,
                  cleanup=client.force_remove_all)


def _check_traces(daemon: Containerd, cgroup_parent: str, baseline_shims: set[int],
                  mounts_before: set[str], cleanup: Callable[[], None]) -> None:
    found = traces.collect(daemon, cgroup_parent, baseline_shims)
    found.mounts = [m for m in found.mounts if m not in mounts_before]
    if found:
        report = found.report()  # before the cleanup: it names the live shims by their argv
        cleanup()
        pytest.fail(report + "\n(cleaned up)", pytrace=False)


# --- CRI ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def cri_daemon(engine_session: EngineSession, host_dirs: HostDirs) -> Iterator[Containerd]:
    """containerd with the CRI plugin: runtime handler ``ociruntime`` = the runtime under
    test, sandbox (pause) image = our busybox image, imported into k8s.io."""
    settings = CriSettings(handler=CRI_HANDLER, sandbox_image=engine_session.image)
    daemon = _start(Containerd(engine_session.base / "cri", engine_session.runtime, cri=settings))
    daemon.ctr("image", "import", str(engine_session.archive), namespace=K8S_NAMESPACE)
    yield daemon
    if os.access(CRICTL, os.X_OK):
        leftovers = Crictl(daemon, daemon.base)
        leftovers.write_config()
        leftovers.remove_all()
    _stop(daemon, cri_cgroup_parent(engine_session))


@pytest.fixture
def crictl(cri_daemon: Containerd, engine_session: EngineSession, tmp_path: Path) -> Iterator[Crictl]:
    """crictl against the CRI daemon, with the same leak check as ``ctr`` (pod cgroups go
    below /<tag>-pods)."""
    try:
        require_crictl()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    client = Crictl(cri_daemon, tmp_path)
    client.write_config()
    baseline_shims = set(cri_daemon.shim_pids())
    mounts_before = set(traces.mounts_under(cri_daemon.base))
    yield client
    _check_traces(cri_daemon, cri_cgroup_parent(engine_session), baseline_shims, mounts_before,
                  cleanup=client.remove_all)

