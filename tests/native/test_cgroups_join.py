"""cgroups/join.py and linux/clone.py on the real kernel: a child born in its cgroup v2
directory (clone3 with CLONE_INTO_CGROUP) that joins its v1 hierarchies itself."""

from __future__ import annotations

import errno
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ociruntime.cgroups.join import CgroupJoin
from ociruntime.errors import KernelError
from ociruntime.linux import clone
from native.support import run_forked

ROOT = Path("/sys/fs/cgroup")


def _cgroup_lines(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {hierarchy: path}; the cgroup2 line is keyed 'unified'."""
    out = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        out[controllers or "unified"] = path
    return out


@pytest.fixture
def dirs() -> Iterator[dict[str, Path]]:
    """A fresh directory in the memory, pids and cpuset v1 hierarchies and in cgroup v2."""
    name = f"ocrtest-join-{secrets.token_hex(4)}"
    made = {key: ROOT / key / name for key in ("memory", "pids", "cpuset", "unified")}
    for d in made.values():
        d.mkdir()
    yield made
    for d in made.values():
        d.rmdir()  # fails, and so fails the test, if a process was left inside


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _in_child(fork, body) -> tuple[int, str]:
    """Fork with `fork`, run body() in the child and send back what it returns (or the
    error it raised); return the child's exit code and that text."""
    r, w = os.pipe()
    try:
        pid = fork()
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        os.close(r)
        code = 0
        try:
            text = body()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text, code = f"{type(exc).__name__}: {exc}", 3
        os.write(w, text.encode())
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def _as_the_runtime(join: CgroupJoin, probe=lambda: None, *, threaded: bool = False) -> dict:  # noqa: ANN001
    """Fork with the join from a single-threaded fork of pytest, as the runtime's forking
    processes are (pytest may have threads of earlier tests running), with one more thread
    running when `threaded`. The child enter()s and reports its /proc/self/cgroup. Returns
    that (parsed), the child's exit code and text, whether the forker ended with the fds it
    started with, and what probe() said in the forker afterwards."""
    def forker() -> dict:
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        if threaded:
            other.start()
        fds_before = _open_fds()
        try:
            def body() -> str:
                join.enter()
                return Path("/proc/self/cgroup").read_text()

            code, text = _in_child(join.fork, body)
        except Exception as exc:  # noqa: BLE001 - the fork itself failed: report it
            code, text = -1, f"{type(exc).__name__}: {exc}"
        finally:
            join.close()
            stop.set()
            if threaded:
                other.join()
        return {"code": code, "text": text, "fds_kept": _open_fds() == fds_before, "probe": probe()}

    outcome = run_forked(forker)
    outcome["cgroups"] = _cgroup_lines(outcome["text"]) if outcome["code"] == 0 else {}
    return outcome


def _joined_child(join: CgroupJoin, probe=lambda: None, *, threaded: bool = False) -> dict[str, str]:  # noqa: ANN001
    outcome = _as_the_runtime(join, probe, threaded=threaded)
    assert outcome["code"] == 0, outcome["text"]
    assert outcome["fds_kept"]
    _joined_child.probed = outcome["probe"]  # type: ignore[attr-defined]
    return outcome["cgroups"]


class _Clone3:
    """Stands in for the C module: answers clone3 with -errno, or fails the test if called."""

    def __init__(self, errno_: int | None) -> None:
        self.errno = errno_
        self.calls = 0

    def ocr_fork_into_cgroup(self, fd: int) -> int:
        self.calls += 1
        if self.errno is None:
            raise AssertionError("clone3 was not to be called")
        return -self.errno


def test_fork_into_cgroup_gives_a_child_born_in_the_v2_directory(dirs) -> None:
    own = Path("/proc/self/cgroup").read_text()

    def forker() -> tuple[int, str]:  # single-threaded, as fork_into_cgroup requires
        fd = os.open(dirs["unified"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return _in_child(lambda: clone.fork_into_cgroup(fd), lambda: Path("/proc/self/cgroup").read_text())
        finally:
            os.close(fd)

    code, text = run_forked(forker)
    assert code == 0, text
    child = _cgroup_lines(text)
    assert child["unified"] == "/" + dirs["unified"].name
    # Only the v2 hierarchy: the v1 ones are the parent's, and the parent did not move.
    assert {k: v for k, v in child.items() if k != "unified"} == \
        {k: v for k, v in _cgroup_lines(own).items() if k != "unified"}
    assert Path("/proc/self/cgroup").read_text() == own


def test_fork_into_a_v1_directory_is_refused_and_forks_nothing(dirs) -> None:
    fd = os.open(dirs["memory"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as err:
            clone.fork_into_cgroup(fd)
    finally:
        os.close(fd)
    assert err.value.errno == errno.EBADF
    assert "clone3(CLONE_INTO_CGROUP)" in str(err.value)
    assert not (dirs["memory"] / "cgroup.procs").read_text().strip()


def test_join_puts_the_child_in_every_hierarchy_and_the_parent_keeps_no_fd(dirs) -> None:
    own = Path("/proc/self/cgroup").read_text()
    # probe: where the forker itself is after the fork (it must not have moved)
    child = _joined_child(CgroupJoin([str(dirs["memory"]), str(dirs["pids"])], str(dirs["unified"])),
                          lambda: Path("/proc/self/cgroup").read_text())
    for key in ("memory", "pids", "unified"):
        assert child[key] == "/" + dirs[key].name, child
    assert child["cpuset"] == _cgroup_lines(own)["cpuset"]  # not asked for
    assert _joined_child.probed == own  # type: ignore[attr-defined]


def test_join_where_the_kernel_lacks_clone_into_cgroup_writes_cgroup_procs(dirs, monkeypatch) -> None:
    # What fork_into_cgroup answers before Linux 5.7: nothing forked, join the old way.
    monkeypatch.setattr(clone, "fork_into_cgroup", lambda fd: None)
    child = _joined_child(CgroupJoin([str(dirs["memory"])], str(dirs["unified"])))
    assert child["unified"] == "/" + dirs["unified"].name
    assert child["memory"] == "/" + dirs["memory"].name


def test_a_threaded_process_forks_the_usual_way_and_still_joins(dirs, monkeypatch) -> None:
    monkeypatch.setattr(clone, "lib", _Clone3(None))  # no raw clone3 in a threaded process
    child = _joined_child(CgroupJoin([str(dirs["pids"])], str(dirs["unified"])), threaded=True)
    assert (child["unified"], child["pids"]) == ("/" + dirs["unified"].name, "/" + dirs["pids"].name)


@pytest.mark.parametrize("refusal", [errno.EPERM, errno.ENOENT, errno.EACCES])
def test_a_clone3_refused_by_seccomp_or_namespace_checks_falls_back(dirs, monkeypatch, refusal) -> None:
    # EPERM: a seccomp filter; ENOENT/EACCES: nsdelegate with a cgroup namespace joined by path.
    fake = _Clone3(refusal)
    monkeypatch.setattr(clone, "lib", fake)
    child = _joined_child(CgroupJoin([str(dirs["memory"])], str(dirs["unified"])), lambda: fake.calls)
    assert _joined_child.probed == 1  # type: ignore[attr-defined]
    assert (child["unified"], child["memory"]) == ("/" + dirs["unified"].name, "/" + dirs["memory"].name)


def test_without_clone_into_the_child_joins_by_writing(dirs, monkeypatch) -> None:
    monkeypatch.setattr(clone, "lib", _Clone3(None))
    child = _joined_child(CgroupJoin([], str(dirs["unified"]), clone_into=False))
    assert child["unified"] == "/" + dirs["unified"].name


def test_a_refused_fork_is_named_and_leaves_no_fd(dirs, monkeypatch) -> None:
    monkeypatch.setattr(clone, "lib", _Clone3(errno.EBUSY))
    outcome = _as_the_runtime(CgroupJoin([str(dirs["memory"])], str(dirs["unified"])))
    assert outcome["code"] == -1
    assert outcome["text"] == f"KernelError: cannot fork into cgroup {dirs['unified']}: Device or resource busy"
    assert outcome["fds_kept"]


def test_a_missing_directory_is_named_and_nothing_stays_open(dirs) -> None:
    fds_before = _open_fds()
    missing = str(dirs["pids"]) + "-gone"
    join = CgroupJoin([str(dirs["memory"]), missing], str(dirs["unified"]))
    with pytest.raises(KernelError) as err:
        join.open()
    assert str(err.value) == f"cannot join cgroup: {missing}/tasks: No such file or directory"
    assert err.value.errno == errno.ENOENT
    assert _open_fds() == fds_before


def test_a_refused_join_names_the_file_in_the_child(dirs) -> None:
    # A new v1 cpuset has no CPUs: the kernel refuses tasks in it (ENOSPC).
    assert not (dirs["cpuset"] / "cpuset.cpus").read_text().strip()
    join = CgroupJoin([str(dirs["cpuset"])], None)
    code, text = _in_child(join.fork, join.enter)
    join.close()
    assert code == 3
    assert text == f"KernelError: cannot join cgroup: {dirs['cpuset']}/tasks: No space left on device"


def test_the_join_travels_as_a_message() -> None:
    join = CgroupJoin(["/sys/fs/cgroup/memory/a", "/sys/fs/cgroup/pids/a"], "/sys/fs/cgroup/unified/a",
                      clone_into=False)
    again = CgroupJoin.from_message(join.to_message())
    assert (again.v1_dirs, again.unified_dir, again.clone_into) == (join.v1_dirs, join.unified_dir, False)
    assert CgroupJoin.from_message({"v1": [], "unified": None}).unified_dir is None
