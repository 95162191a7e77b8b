"""Compiled seccomp programs loaded into a forked Python child (load_seccomp).

The victim syscall is kill(2) aimed at pids above PID_MAX_LIMIT: allowed calls
fail with ESRCH and touch nothing, blocked ones fail with the errno the profile
asks for, so every argument comparison can be checked exactly.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from pathlib import Path

import pytest

from native.support import run_forked
from ociruntime.linux import seccomp as scmp
from ociruntime.linux.exec import LISTENER_PAYLOAD, load_seccomp, receive_listener_fd
from ociruntime.security.seccomp import compile_seccomp

NO_SUCH_PID = 0x400000  # PID_MAX_LIMIT on 64-bit: no process can have this pid or above
BLOCKED = errno.EXFULL  # an errno nothing else here produces


def _kill_profile(args: list[dict], action: str = "SCMP_ACT_ERRNO", errno_ret: int | None = BLOCKED) -> dict:
    rule: dict = {"names": ["kill"], "action": action, "args": args}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}


def _outcomes(profile: dict, calls: list[tuple[int, int]]) -> list[int]:
    """errno of kill(pid, sig) for each call, under the profile, in a child."""
    program = compile_seccomp(profile)
    assert program is not None

    def child() -> list[int]:
        load_seccomp(program)
        results = []
        for pid, sig in calls:
            try:
                os.kill(pid, sig)
                results.append(0)
            except OSError as err:
                results.append(err.errno)
        return results

    return run_forked(child)


def _blocked(profile: dict, offsets: list[int]) -> list[int]:
    outcomes = _outcomes(profile, [(NO_SUCH_PID + off, 0) for off in offsets])
    assert set(outcomes) <= {BLOCKED, errno.ESRCH}
    return [off for off, result in zip(offsets, outcomes) if result == BLOCKED]


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("SCMP_CMP_NE", [0x21, 0x23]),
        ("SCMP_CMP_LT", [0x21]),
        ("SCMP_CMP_LE", [0x21, 0x22]),
        ("SCMP_CMP_EQ", [0x22]),
        ("SCMP_CMP_GE", [0x22, 0x23]),
        ("SCMP_CMP_GT", [0x23]),
    ],
)
def test_each_comparison_operator(op: str, expected: list[int]) -> None:
    profile = _kill_profile([{"index": 0, "op": op, "value": NO_SUCH_PID + 0x22}])
    assert _blocked(profile, [0x21, 0x22, 0x23]) == expected


def test_masked_eq_uses_value_as_mask_and_value_two_as_expected() -> None:
    profile = _kill_profile([{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 0xF0, "valueTwo": 0x20}])
    assert _blocked(profile, [0x07, 0x20, 0x2F, 0x30]) == [0x20, 0x2F]


def test_conditions_on_different_arguments_must_all_match() -> None:
    profile = _kill_profile(
        [
            {"index": 0, "op": "SCMP_CMP_EQ", "value": NO_SUCH_PID + 1},
            {"index": 1, "op": "SCMP_CMP_EQ", "value": 0},
        ]
    )
    calls = [(NO_SUCH_PID + 1, 0), (NO_SUCH_PID + 1, signal.SIGCONT), (NO_SUCH_PID + 2, 0)]
    assert _outcomes(profile, calls) == [BLOCKED, errno.ESRCH, errno.ESRCH]


def test_conditions_on_the_same_argument_become_separate_rules_like_runc() -> None:
    # libseccomp cannot AND two comparisons of one argument; runc adds one rule per
    # condition, so any of them blocks.
    profile = _kill_profile(
        [
            {"index": 0, "op": "SCMP_CMP_EQ", "value": NO_SUCH_PID + 1},
            {"index": 0, "op": "SCMP_CMP_EQ", "value": NO_SUCH_PID + 3},
        ]
    )
    assert _blocked(profile, [1, 2, 3]) == [1, 3]


def test_errno_defaults_to_eperm() -> None:
    profile = _kill_profile([], errno_ret=None)
    assert _outcomes(profile, [(NO_SUCH_PID, 0)]) == [errno.EPERM]


def test_trace_without_a_tracer_fails_with_enosys() -> None:
    profile = _kill_profile([], action="SCMP_ACT_TRACE", errno_ret=None)
    assert _outcomes(profile, [(NO_SUCH_PID, 0)]) == [errno.ENOSYS]


def test_log_lets_the_call_through() -> None:
    profile = _kill_profile([], action="SCMP_ACT_LOG", errno_ret=None)
    assert _outcomes(profile, [(NO_SUCH_PID, 0)]) == [errno.ESRCH]


def test_unknown_syscall_names_are_ignored_and_the_rest_applies() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["not_a_syscall_at_all", "kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": BLOCKED}],
    }
    program = compile_seccomp(profile)
    assert program is not None and program.ignored_syscalls == ("not_a_syscall_at_all",)
    assert _outcomes(profile, [(NO_SUCH_PID, 0)]) == [BLOCKED]


def _status_field(name: str) -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in /proc/self/status")


@pytest.mark.parametrize(
    "flags",
    [
        [],
        ["SECCOMP_FILTER_FLAG_LOG"],
        ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        ["SECCOMP_FILTER_FLAG_TSYNC"],
        ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    ],
)
def test_every_filter_flag_loads(flags: list[str]) -> None:
    profile = {**_kill_profile([]), "flags": flags}
    program = compile_seccomp(profile)
    assert program is not None

    def child() -> tuple[str, str, int]:
        load_seccomp(program)
        try:
            os.kill(NO_SUCH_PID, 0)
        except OSError as err:
            return _status_field("Seccomp"), _status_field("Seccomp_filters"), err.errno
        return "", "", 0

    assert run_forked(child) == ("2", "1", BLOCKED)


def test_filters_stack() -> None:
    program = compile_seccomp(_kill_profile([]))
    assert program is not None

    def child() -> str:
        load_seccomp(program)
        load_seccomp(program)
        return _status_field("Seccomp_filters")

    assert run_forked(child) == "2"


def test_extra_architectures_load() -> None:
    profile = {
        **_kill_profile([]),
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    }
    assert _outcomes(profile, [(NO_SUCH_PID, 0)]) == [BLOCKED]


def test_notify_sends_the_listener_and_an_agent_answers(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": str(tmp_path / "agent.sock"),
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}],
    }
    program = compile_seccomp(profile)
    assert program is not None and program.needs_listener
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ours.close()
            load_seccomp(program, theirs.detach())
            try:
                os.kill(NO_SUCH_PID + 7, 0)  # the agent makes this "succeed"
                code = 0
            except OSError as err:
                code = 100 + err.errno
        finally:
            os._exit(code)
    theirs.close()
    try:
        payload, fds, _, _ = socket.recv_fds(ours, 256, 1, socket.MSG_CMSG_CLOEXEC)
        assert payload == LISTENER_PAYLOAD and len(fds) == 1
        listener = fds[0]
        try:
            note = scmp.notify_receive(listener)
            assert note.pid == pid
            assert note.syscall == scmp.resolve_syscall("kill")
            assert note.args[:2] == (NO_SUCH_PID + 7, 0)
            scmp.notify_respond(listener, note.id, value=0)
        finally:
            os.close(listener)
    finally:
        ours.close()
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_notify_agent_can_fail_the_call(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": str(tmp_path / "agent.sock"),
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}],
    }
    program = compile_seccomp(profile)
    assert program is not None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ours.close()
            load_seccomp(program, theirs.detach())
            try:
                os.kill(NO_SUCH_PID, 0)
                code = 0
            except OSError as err:
                code = 100 + err.errno
        finally:
            os._exit(code)
    theirs.close()
    try:
        listener = receive_listener_fd(ours)
        try:
            note = scmp.notify_receive(listener)
            scmp.notify_respond(listener, note.id, error=BLOCKED)
        finally:
            os.close(listener)
    finally:
        ours.close()
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 100 + BLOCKED


def test_listener_without_a_socket_is_refused_before_loading() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}],
    }
    program = compile_seccomp(profile)
    assert program is not None

    def child() -> str:
        try:
            load_seccomp(program, -1)
        except OSError as err:
            return f"{err.errno} {err} {_status_field('Seccomp')}"
        return "loaded"

    result = run_forked(child)
    assert result.startswith(f"{errno.EBADF} ")
    assert result.endswith(" 0")  # nothing was loaded


def test_probes_agree_with_the_kernel() -> None:
    assert scmp.flags_known(scmp.FILTER_FLAG_LOG | scmp.FILTER_FLAG_SPEC_ALLOW)
    assert not scmp.flags_known(1 << 30)
    assert not scmp.flags_known(scmp.FILTER_FLAG_WAIT_KILLABLE_RECV)  # needs NEW_LISTENER
    assert scmp.action_available(scmp.ACT_KILL_PROCESS)
    assert scmp.action_available(scmp.act_errno(5))
    assert not scmp.action_available(0x12340000)
