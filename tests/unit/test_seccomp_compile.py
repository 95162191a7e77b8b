"""compile_seccomp: every mistake names its JSON path; the BPF says what we asked.

No root needed: compiling only talks to libseccomp and probes seccomp(2)
without installing anything.
"""

from __future__ import annotations

import struct

import pytest

from ociruntime.errors import ConfigError, UnsupportedError
from ociruntime.linux import seccomp as scmp
from ociruntime.security.seccomp import SeccompProgram, compile_seccomp

BPF_RET_K = 0x06


def _returns(program: SeccompProgram) -> set[int]:
    """The constant return values (actions) of a BPF program."""
    return {k for code, _jt, _jf, k in struct.iter_unpack("<HBBI", program.bpf) if code == BPF_RET_K}


def _compile(profile: dict) -> SeccompProgram:
    program = compile_seccomp(profile)
    assert program is not None
    return program


def _profile(*syscalls: dict, **top: object) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(syscalls), **top}


def _rule(action: str = "SCMP_ACT_ERRNO", names: list | None = None, **extra: object) -> dict:
    return {"names": ["mkdir"] if names is None else names, "action": action, **extra}


def _config_error(profile: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        compile_seccomp(profile)  # type: ignore[arg-type]
    return info.value


# --- errors name the JSON path ------------------------------------------------------------


def test_unknown_action_in_a_rule() -> None:
    profile = _profile(_rule(), _rule(), _rule(), _rule("SCMP_ACT_FOO"))
    err = _config_error(profile)
    assert err.path == "linux.seccomp.syscalls[3].action"
    assert err.reason.startswith('"SCMP_ACT_FOO" is not one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS,')
    assert str(err).startswith('config.json: linux.seccomp.syscalls[3].action: "SCMP_ACT_FOO" is not one of')


def test_unknown_default_action() -> None:
    err = _config_error({"defaultAction": "ALLOW"})
    assert err.path == "linux.seccomp.defaultAction"
    assert err.reason.startswith('"ALLOW" is not one of')


def test_unknown_operator() -> None:
    args = [{"index": 0, "op": "SCMP_CMP_EQ", "value": 1}, {"index": 1, "op": "SCMP_CMP_APPROX", "value": 1}]
    err = _config_error(_profile(_rule(args=args)))
    assert err.path == "linux.seccomp.syscalls[0].args[1].op"
    assert err.reason == (
        '"SCMP_CMP_APPROX" is not one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, '
        "SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ"
    )


@pytest.mark.parametrize(
    ("arg", "path", "reason"),
    [
        ({"index": 6, "op": "SCMP_CMP_EQ", "value": 1}, "index", "6 is not an integer from 0 to 5"),
        ({"index": -1, "op": "SCMP_CMP_EQ", "value": 1}, "index", "-1 is not an integer from 0 to 5"),
        ({"op": "SCMP_CMP_EQ", "value": 1}, "index", "null is not an integer from 0 to 5"),
        ({"index": 0, "op": "SCMP_CMP_EQ", "value": "1"}, "value", '"1" is not an integer from 0 to'),
        ({"index": 0, "op": "SCMP_CMP_EQ", "value": -5}, "value", "-5 is not an integer from 0 to"),
        ({"index": 0, "op": "SCMP_CMP_EQ", "value": 2**64}, "value", f"{2**64} is not an integer from 0 to"),
        ({"index": 0, "op": "SCMP_CMP_EQ", "value": 1, "valueTwo": True}, "valueTwo", "true is not an integer"),
    ],
)
def test_bad_argument_fields(arg: dict, path: str, reason: str) -> None:
    err = _config_error(_profile(_rule(args=[arg])))
    assert err.path == f"linux.seccomp.syscalls[0].args[0].{path}"
    assert err.reason.startswith(reason)


def test_unknown_architecture() -> None:
    err = _config_error(_profile(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]))
    assert err.path == "linux.seccomp.architectures[1]"
    assert err.reason.startswith('"SCMP_ARCH_Z80" is not one of SCMP_ARCH_X86, SCMP_ARCH_X86_64,')


def test_spec_architecture_this_libseccomp_lacks_is_unsupported() -> None:
    # SCMP_ARCH_LOONGARCH64 is in the spec but only libseccomp >= 2.6 knows it.
    if scmp.resolve_arch("loongarch64") is not None:
        pytest.fail("this libseccomp knows loongarch64: pick another arch for this test")
    with pytest.raises(UnsupportedError) as info:
        compile_seccomp(_profile(architectures=["SCMP_ARCH_LOONGARCH64"]))
    assert str(info.value) == (
        "config.json: linux.seccomp.architectures[0]: SCMP_ARCH_LOONGARCH64 is not supported "
        f"by libseccomp {scmp.libseccomp_version()}"
    )


def test_unknown_flag() -> None:
    err = _config_error(_profile(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"]))
    assert err.path == "linux.seccomp.flags[1]"
    assert err.reason.startswith('"SECCOMP_FILTER_FLAG_FAST" is not one of SECCOMP_FILTER_FLAG_TSYNC,')


@pytest.mark.parametrize(
    ("rule", "path", "reason"),
    [
        (_rule(errnoRet=65536), "errnoRet", "65536 is not an integer from 0 to 65535"),
        (_rule(errnoRet=-1), "errnoRet", "-1 is not an integer from 0 to 65535"),
        (_rule("SCMP_ACT_TRACE", errnoRet="x"), "errnoRet", '"x" is not an integer'),
        (_rule(names=[]), "names", "must name at least one syscall"),
        (_rule(names="mkdir"), "names", '"mkdir" is not an array'),
        (_rule(names=["mkdir", ""]), "names[1]", "empty string is not a valid syscall"),
        (_rule(names=["mkdir", 5]), "names[1]", "5 is not a string"),
        (_rule("SCMP_ACT_NOTIFY", names=["mkdir", "sendmsg"]), "names[1]", "SCMP_ACT_NOTIFY cannot be used for sendmsg"),
    ],
)
def test_bad_rule_fields(rule: dict, path: str, reason: str) -> None:
    err = _config_error(_profile(rule, listenerPath="/run/agent.sock"))
    assert err.path == f"linux.seccomp.syscalls[0].{path}"
    assert err.reason.startswith(reason)


def test_bad_default_errno() -> None:
    err = _config_error({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1 << 20})
    assert err.path == "linux.seccomp.defaultErrnoRet"


def test_notify_cannot_be_the_default_action() -> None:
    err = _config_error({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"})
    assert err.path == "linux.seccomp.defaultAction"
    assert err.reason == "SCMP_ACT_NOTIFY cannot be used as the default action"


def test_notify_needs_a_listener_path() -> None:
    err = _config_error(_profile(_rule("SCMP_ACT_NOTIFY")))
    assert err.path == "linux.seccomp.listenerPath"
    assert err.reason == "must be set when a rule uses SCMP_ACT_NOTIFY"


@pytest.mark.parametrize(
    ("profile", "path"),
    [
        ("allow", "linux.seccomp"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": ["x"]}}, "linux.seccomp.syscalls"),
        (_profile(_rule(), _rule(), ["mkdir"]), "linux.seccomp.syscalls[2]"),
        (_profile(_rule(args=[5])), "linux.seccomp.syscalls[0].args[0]"),
        (_profile(architectures="SCMP_ARCH_X86"), "linux.seccomp.architectures"),
        (_profile(listenerPath=3), "linux.seccomp.listenerPath"),
        (_profile(listenerMetadata=["x"]), "linux.seccomp.listenerMetadata"),
    ],
)
def test_wrong_json_types(profile: object, path: str) -> None:
    assert _config_error(profile).path == path


def test_custom_base_path_for_other_documents() -> None:
    with pytest.raises(ConfigError) as info:
        compile_seccomp({"defaultAction": "NOPE"}, path="process.seccomp")
    assert info.value.path == "process.seccomp.defaultAction"


# --- what gets compiled ---------------------------------------------------------------------


def test_nothing_asked_means_no_filter() -> None:
    assert compile_seccomp({}) is None
    assert compile_seccomp({"defaultAction": "", "syscalls": []}) is None


def test_errno_values_reach_the_bpf() -> None:
    program = _compile(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 54,
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            ],
        }
    )
    assert {scmp.act_errno(54), scmp.act_errno(42), scmp.act_errno(1), scmp.act_trace(7)} <= _returns(program)
    assert scmp.ACT_ALLOW in _returns(program)


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("SCMP_ACT_KILL", 0x00000000),  # runc: kill means kill the thread
        ("SCMP_ACT_KILL_THREAD", 0x00000000),
        ("SCMP_ACT_KILL_PROCESS", 0x80000000),
        ("SCMP_ACT_TRAP", 0x00030000),
        ("SCMP_ACT_LOG", 0x7FFC0000),
        ("SCMP_ACT_TRACE", 0x7FF00001),  # EPERM unless errnoRet says otherwise
    ],
)
def test_each_action_compiles_to_the_kernel_value(action: str, value: int) -> None:
    assert value in _returns(_compile(_profile(_rule(action))))


def test_notify_compiles_to_user_notif_and_asks_for_a_listener() -> None:
    program = _compile(_profile(_rule("SCMP_ACT_NOTIFY"), listenerPath="/run/a.sock", listenerMetadata="meta"))
    assert 0x7FC00000 in _returns(program)
    assert program.needs_listener
    assert program.flags & scmp.FILTER_FLAG_NEW_LISTENER
    assert (program.listener_path, program.listener_metadata) == ("/run/a.sock", "meta")


def test_a_rule_with_the_default_action_is_skipped_like_runc() -> None:
    plain = _compile(_profile(_rule()))
    redundant = _compile(_profile(_rule(), _rule("SCMP_ACT_ALLOW", names=["rmdir"])))
    assert redundant.bpf == plain.bpf


def test_unknown_syscalls_are_ignored_and_reported() -> None:
    program = _compile(_profile(_rule(names=["mkdir", "no_such_call", "also_not"]), _rule(names=["no_such_call"])))
    assert program.ignored_syscalls == ("no_such_call", "also_not")
    assert program.bpf == _compile(_profile(_rule())).bpf


def test_a_syscall_of_another_arch_only_is_not_ignored() -> None:
    # socketcall exists on x86 but not x86_64: libseccomp knows the name, so it is kept.
    program = _compile(_profile(_rule(names=["socketcall"]), architectures=["SCMP_ARCH_X86"]))
    assert program.ignored_syscalls == ()


def test_flags_absent_default_to_spec_allow_like_runc() -> None:
    assert _compile(_profile(_rule())).flags == scmp.FILTER_FLAG_SPEC_ALLOW
    assert _compile(_profile(_rule(), flags=[])).flags == 0


def test_flags_map_to_kernel_bits() -> None:
    flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    program = _compile(_profile(_rule(), flags=flags))
    assert program.flags == scmp.FILTER_FLAG_TSYNC | scmp.FILTER_FLAG_LOG | scmp.FILTER_FLAG_SPEC_ALLOW


def test_wait_killable_recv_is_dropped_without_notify_rules() -> None:
    program = _compile(_profile(_rule(), flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]))
    assert program.flags == 0


def test_tsync_with_a_listener_adds_tsync_esrch() -> None:
    program = _compile(
        _profile(_rule("SCMP_ACT_NOTIFY"), listenerPath="/run/a.sock", flags=["SECCOMP_FILTER_FLAG_TSYNC"])
    )
    assert program.flags == scmp.FILTER_FLAG_TSYNC | scmp.FILTER_FLAG_TSYNC_ESRCH | scmp.FILTER_FLAG_NEW_LISTENER


def test_long_profiles_compile_with_the_binary_tree_optimization() -> None:
    names = ["read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap", "mprotect",
             "munmap", "brk", "ioctl", "pread64", "pwrite64", "readv", "writev", "access", "pipe", "select",
             "sched_yield", "mremap", "msync", "mincore", "madvise", "shmget", "shmat", "shmctl", "dup",
             "dup2", "pause", "nanosleep", "getitimer", "alarm", "setitimer", "getpid"]
    rules = [_rule(names=[name], errnoRet=i + 1) for i, name in enumerate(names)]
    program = _compile(_profile(*rules))
    assert {scmp.act_errno(i + 1) for i in range(len(names))} <= _returns(program)


def test_architectures_add_code_for_each_arch() -> None:
    one = _compile(_profile(_rule()))
    three = _compile(_profile(_rule(), architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]))
    assert three.instructions > one.instructions


# --- may ociruntime-dmz wait for `start` under this filter? ---------------------------------

WAIT_SYSCALLS = ["prctl", "rt_sigaction", "read", "write", "close", "fcntl", "execve"]


def _can_wait(profile: dict) -> bool:
    program = compile_seccomp(profile)
    assert program is not None
    return program.trampoline_can_wait


@pytest.mark.parametrize(("profile", "expected"), [
    # docker's shape: refuse by default, allow a list that holds what the trampoline calls
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": [*WAIT_SYSCALLS, "exit_group", "openat"], "action": "SCMP_ACT_ALLOW"}]}, True),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}, True),
    ({"defaultAction": "SCMP_ACT_LOG"}, True),
    # one of them refused, or killed, or only logged-and-allowed under a condition
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["prctl"], "action": "SCMP_ACT_ERRNO"}]}, False),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL"}]}, False),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": [n for n in WAIT_SYSCALLS if n != "write"], "action": "SCMP_ACT_ALLOW"}]}, False),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": WAIT_SYSCALLS[1:], "action": "SCMP_ACT_ALLOW"},
        {"names": ["prctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]}]},
     False),
    # a condition on an otherwise refused call: the arguments decide, so not certain
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 99, "op": "SCMP_CMP_EQ"}]}]},
     False),
])
def test_trampoline_may_wait_only_when_every_call_it_makes_is_surely_allowed(profile: dict, expected: bool) -> None:
    assert _can_wait(profile) is expected


def test_a_listener_means_the_init_waits_itself() -> None:
    """SCMP_ACT_NOTIFY: the init must take the agent's connection after `start` (Python)."""
    assert not _can_wait({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
