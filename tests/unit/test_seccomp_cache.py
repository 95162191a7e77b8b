"""security/seccomp_cache.py: a profile is compiled once per state root, and only an entry
whose key matches byte for byte is ever used."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from ociruntime.errors import ConfigError
from ociruntime.security import seccomp, seccomp_cache

PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["read", "write", "exit_group", "futex", "not_a_syscall_anywhere"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    ],
}


def _entries(root: Path) -> list[Path]:
    directory = root / seccomp_cache.CACHE_DIR
    return sorted(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def compiles(monkeypatch) -> list[object]:
    """Counts libseccomp compilations (calls of seccomp.compile_seccomp)."""
    calls: list[object] = []
    real = seccomp.compile_seccomp

    def counting(cfg: object, path: str = seccomp.BASE_PATH):  # noqa: ANN202
        calls.append(cfg)
        return real(cfg, path)

    monkeypatch.setattr(seccomp, "compile_seccomp", counting)
    return calls


def test_the_second_create_reads_what_the_first_compiled(tmp_path: Path, compiles: list) -> None:
    first = seccomp_cache.compile_cached(PROFILE, str(tmp_path))
    second = seccomp_cache.compile_cached(PROFILE, str(tmp_path))
    assert len(compiles) == 1
    assert first == second == seccomp.compile_seccomp(PROFILE)
    assert second.ignored_syscalls == ("not_a_syscall_anywhere",)
    [entry] = _entries(tmp_path)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / seccomp_cache.CACHE_DIR).stat().st_mode & 0o777 == 0o700


def test_another_profile_is_another_entry(tmp_path: Path, compiles: list) -> None:
    seccomp_cache.compile_cached(PROFILE, str(tmp_path))
    other = dict(PROFILE, defaultAction="SCMP_ACT_KILL_PROCESS")
    program = seccomp_cache.compile_cached(other, str(tmp_path))
    assert len(compiles) == 2 and len(_entries(tmp_path)) == 2
    assert program == seccomp.compile_seccomp(other)


def test_an_entry_damaged_or_with_another_key_is_a_miss_and_replaced(tmp_path: Path, compiles: list) -> None:
    first = seccomp_cache.compile_cached(PROFILE, str(tmp_path))
    [entry] = _entries(tmp_path)
    entry.write_bytes(entry.read_bytes()[:-40])  # truncated
    assert seccomp_cache.compile_cached(PROFILE, str(tmp_path)) == first
    assert len(compiles) == 2
    _, fields = marshal.loads(entry.read_bytes())
    entry.write_bytes(marshal.dumps((b"another profile or host", fields)))  # as after a hash collision
    assert seccomp_cache.compile_cached(PROFILE, str(tmp_path)) == first
    assert len(compiles) == 3
    assert seccomp_cache.compile_cached(PROFILE, str(tmp_path)) == first
    assert len(compiles) == 3  # replaced by a good entry again


def test_a_bad_profile_is_still_reported_by_the_compiler_and_never_stored(tmp_path: Path) -> None:
    bad = dict(PROFILE, defaultAction="SCMP_ACT_SOMETIMES")
    with pytest.raises(ConfigError) as err:
        seccomp_cache.compile_cached(bad, str(tmp_path))
    assert "linux.seccomp.defaultAction" in str(err.value)
    assert _entries(tmp_path) == []


def test_without_a_state_root_yet_it_compiles_and_stores_nothing(tmp_path: Path, compiles: list) -> None:
    root = tmp_path / "not-made-yet"
    assert seccomp_cache.compile_cached(PROFILE, str(root)) is not None
    assert not root.exists() and len(compiles) == 1


def test_at_most_max_entries_are_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(seccomp_cache, "MAX_ENTRIES", 3)
    for errno_ret in range(1, 6):
        seccomp_cache.compile_cached(dict(PROFILE, defaultErrnoRet=errno_ret), str(tmp_path))
    assert len(_entries(tmp_path)) == 3


def test_the_cache_directory_can_never_be_a_container(tmp_path: Path) -> None:
    from ociruntime.errors import InvalidContainerId
    from ociruntime.state.store import list_ids, validate_id

    with pytest.raises(InvalidContainerId):
        validate_id(seccomp_cache.CACHE_DIR)
    seccomp_cache.compile_cached(PROFILE, str(tmp_path))
    assert list_ids(str(tmp_path)) == []


def test_no_root_means_no_cache(compiles: list) -> None:
    seccomp_cache.compile_cached(PROFILE, None)
    seccomp_cache.compile_cached(PROFILE, None)
    assert len(compiles) == 2


def test_a_cached_program_is_what_the_kernel_loads(tmp_path: Path) -> None:
    # The bytes read back are a valid classic-BPF program for this kernel: a forked child
    # loads it and is refused what the profile refuses.
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}
    seccomp_cache.compile_cached(profile, str(tmp_path))
    program = seccomp_cache.compile_cached(profile, str(tmp_path))
    from ociruntime.linux.exec import load_seccomp
    from ociruntime.linux.procattr import set_no_new_privs

    pid = os.fork()
    if pid == 0:
        try:
            set_no_new_privs()
            load_seccomp(program)
            os.mkdir(tmp_path / "refused")
            os._exit(1)
        except OSError as err:
            os._exit(0 if err.errno == 42 else 2)
        except BaseException:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not (tmp_path / "refused").exists()
