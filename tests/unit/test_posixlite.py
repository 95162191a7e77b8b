"""ociruntime/posixlite.py against os.path and os.environ, which it stands in for on the
short verbs' path; and cgroups.dirs.ancestors, which no longer uses os.path.relpath."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ociruntime import posixlite
from ociruntime.cgroups.dirs import ancestors

PATHS = ["", "/", "//", "a", "a/", "/a", "/a/", "/a/b", "/a//b", "a/b/c", "/a/b/", "///a", "a///b//"]


@pytest.mark.parametrize("first", PATHS)
@pytest.mark.parametrize("second", ["", "b", "/b", "b/", "b/c"])
def test_join_is_posixpaths(first: str, second: str) -> None:
    assert posixlite.join(first, second) == os.path.join(first, second)
    assert posixlite.join(first, second, "z") == os.path.join(first, second, "z")


@pytest.mark.parametrize("path", PATHS)
def test_split_and_dirname_are_posixpaths(path: str) -> None:
    assert posixlite.split(path) == os.path.split(path)
    assert posixlite.dirname(path) == os.path.dirname(path)


def test_exists_lexists_isdir(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name in ("file", "dir", "dangling", "nowhere", "file/below", "with\0nul"):
        path = str(tmp_path / name) if "\0" not in name else str(tmp_path) + "/" + name
        assert posixlite.exists(path) == os.path.exists(path), name
        assert posixlite.lexists(path) == os.path.lexists(path), name
        assert posixlite.isdir(path) == os.path.isdir(path), name


def test_getenv_decodes_as_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    import posix

    monkeypatch.setitem(posix.environ, b"OCI_LITE_TEST", "caf\u00e9 \udcff".encode("utf-8", "surrogateescape"))
    monkeypatch.setitem(os.environ, "OCI_LITE_TEST", "caf\u00e9 \udcff")
    assert posixlite.getenv("OCI_LITE_TEST") == os.environ["OCI_LITE_TEST"]
    assert posixlite.getenv("OCI_LITE_TEST_UNSET") is None


def _relpath_ancestors(d: str, mount: str) -> list[str]:
    rel = os.path.relpath(d, mount)
    if rel == ".":
        return []
    parts = rel.split("/")
    return [mount] + [os.path.join(mount, *parts[:i]) for i in range(1, len(parts))]


@pytest.mark.parametrize(("d", "mount"), [
    ("/sys/fs/cgroup/cpu/a/b/c", "/sys/fs/cgroup/cpu"),
    ("/sys/fs/cgroup/cpu/x", "/sys/fs/cgroup/cpu"),
    ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu"),
    ("/sys/fs/cgroup/memory/process_api/hash/id", "/sys/fs/cgroup/memory"),
    ("/a/b", "/"),
])
def test_cgroup_ancestors_are_those_relpath_gave(d: str, mount: str) -> None:
    assert ancestors(d, mount) == _relpath_ancestors(d, mount)


def test_a_cgroup_outside_its_mount_is_refused() -> None:
    with pytest.raises(ValueError, match="not below its mount point"):
        ancestors("/sys/fs/cgroup/cpuset/x", "/sys/fs/cgroup/cpu")
