"""ociruntime.linux.exec.execve: filter + capabilities + execve in one C call,
checked with the static busybox as the container process."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import threading
from pathlib import Path

import prctl
import pytest

from native.support import BUSYBOX, run_exec
from ociruntime.linux import seccomp as scmp
from ociruntime.linux.exec import CapabilitySets, execve, receive_listener_fd
from ociruntime.security.seccomp import SeccompProgram, compile_seccomp
from ociruntime.security.seccomp_agent import AgentTarget, send_to_agent

NOBODY = 65534
MKDIR_SYSCALLS = ["mkdir", "mkdirat"]


def _program(action: str, errno_ret: int | None = None, **extra: object) -> SeccompProgram:
    rule: dict = {"names": MKDIR_SYSCALLS, "action": action}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    program = compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule], **extra})
    assert program is not None
    return program


def _status(output: str, field: str) -> str:
    for line in output.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} not in output:\n{output}")


def _become_nobody(keep_caps: bool) -> None:
    if keep_caps:
        prctl.set_keepcaps(True)
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def test_execve_runs_the_program_with_exactly_the_given_env() -> None:
    result = run_exec(lambda: execve(BUSYBOX, ["env"], ["FOO=bar", "EMPTY="]))
    assert result.error is None
    assert result.exit_code == 0
    assert sorted(result.output.split()) == ["EMPTY=", "FOO=bar"]


def test_execve_failure_is_an_oserror_naming_the_path() -> None:
    result = run_exec(lambda: execve("/nonexistent/prog", ["prog"], []))
    assert isinstance(result.error, FileNotFoundError)
    assert str(result.error).endswith("execve /nonexistent/prog: No such file or directory")


def test_execve_refuses_an_empty_argv() -> None:
    with pytest.raises(ValueError, match="argv must not be empty"):
        execve(BUSYBOX, [], [])


def test_execve_refuses_nul_bytes() -> None:
    with pytest.raises(ValueError, match="embedded NUL"):
        execve(BUSYBOX, ["echo", "a\0b"], [])


def test_errno_rule_returns_the_custom_errno_to_the_program(tmp_path: Path) -> None:
    target = tmp_path / "blocked"
    program = _program("SCMP_ACT_ERRNO", errno.EXFULL)
    result = run_exec(lambda: execve(BUSYBOX, ["mkdir", str(target)], [], program))
    assert result.error is None
    assert result.exit_code == 1
    assert os.strerror(errno.EXFULL) in result.output
    assert not target.exists()


def test_the_filter_is_inherited_by_the_programs_children(tmp_path: Path) -> None:
    target = tmp_path / "blocked"
    program = _program("SCMP_ACT_ERRNO", errno.EXFULL)
    script = f"{BUSYBOX} mkdir {target}; echo status=$?"
    result = run_exec(lambda: execve(BUSYBOX, ["sh", "-c", script], []))
    assert result.output.strip().endswith("status=0")  # control: no filter, it works
    target.rmdir()
    result = run_exec(lambda: execve(BUSYBOX, ["sh", "-c", script], [], program))
    assert result.output.strip().endswith("status=1")
    assert not target.exists()


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"])
def test_kill_and_trap_actions_end_the_program_with_sigsys(tmp_path: Path, action: str) -> None:
    target = tmp_path / "never"
    result = run_exec(lambda: execve(BUSYBOX, ["mkdir", str(target)], [], _program(action)))
    assert result.error is None
    assert result.term_signal == signal.SIGSYS
    assert not target.exists()


def test_the_program_runs_in_seccomp_filter_mode() -> None:
    program = _program("SCMP_ACT_ERRNO")
    result = run_exec(lambda: execve(BUSYBOX, ["cat", "/proc/self/status"], [], program))
    assert _status(result.output, "Seccomp") == "2"
    assert _status(result.output, "Seccomp_filters") == "1"


def test_final_capabilities_survive_the_uid_switch_through_ambient() -> None:
    net_bind = prctl.CAP_NET_BIND_SERVICE
    caps = CapabilitySets.from_numbers(
        effective=[net_bind], permitted=[net_bind], inheritable=[net_bind], ambient=[net_bind]
    )

    def child() -> None:
        _become_nobody(keep_caps=True)
        execve(BUSYBOX, ["cat", "/proc/self/status"], [], capabilities=caps)

    result = run_exec(child)
    assert result.error is None
    expected = f"{1 << net_bind:016x}"
    assert _status(result.output, "Uid").split()[0] == str(NOBODY)
    assert _status(result.output, "CapEff") == expected
    assert _status(result.output, "CapPrm") == expected
    assert _status(result.output, "CapAmb") == expected
    assert _status(result.output, "Seccomp") == "0"


def test_filter_loads_without_no_new_privs_after_the_uid_switch(tmp_path: Path) -> None:
    # The recommended order without noNewPrivileges: switch user keeping caps, then let
    # the C code raise CAP_SYS_ADMIN, load the filter, drop to the final sets, exec.
    target = tmp_path / "blocked"
    tmp_path.chmod(0o777)
    program = _program("SCMP_ACT_ERRNO", errno.EXFULL)
    script = f"cat /proc/self/status; mkdir {target}"

    def child() -> None:
        _become_nobody(keep_caps=True)
        execve(BUSYBOX, ["sh", "-c", script], [], program, capabilities=CapabilitySets())

    result = run_exec(child)
    assert result.error is None
    assert _status(result.output, "NoNewPrivs") == "0"
    assert _status(result.output, "Seccomp") == "2"
    assert _status(result.output, "CapEff") == "0" * 16
    assert _status(result.output, "CapPrm") == "0" * 16
    assert os.strerror(errno.EXFULL) in result.output
    assert not target.exists()


def test_filter_without_no_new_privs_or_cap_sys_admin_is_a_clear_error() -> None:
    program = _program("SCMP_ACT_ERRNO")

    def child() -> None:
        _become_nobody(keep_caps=False)
        execve(BUSYBOX, ["true"], [], program)

    result = run_exec(child)
    assert isinstance(result.error, PermissionError)
    assert "without noNewPrivileges this needs CAP_SYS_ADMIN" in str(result.error)


def test_filter_with_no_new_privs_needs_no_privilege(tmp_path: Path) -> None:
    program = _program("SCMP_ACT_ERRNO", errno.EXFULL)

    def child() -> None:
        _become_nobody(keep_caps=False)
        prctl.set_no_new_privs(True)
        execve(BUSYBOX, ["cat", "/proc/self/status"], [], program)

    result = run_exec(child)
    assert result.error is None
    assert _status(result.output, "NoNewPrivs") == "1"
    assert _status(result.output, "Seccomp") == "2"


def test_notify_hands_the_listener_over_and_the_container_keeps_no_copy(tmp_path: Path) -> None:
    target = tmp_path / "intercepted"
    program = _program("SCMP_ACT_NOTIFY", listenerPath=str(tmp_path / "agent.sock"))
    assert program.needs_listener and program.flags & scmp.FILTER_FLAG_NEW_LISTENER
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    script = f"mkdir {target} && echo mkdir-ok; exec ls -l /proc/self/fd"
    seen: list[scmp.Notification] = []

    def agent(pid: int) -> None:
        theirs.close()
        listener = receive_listener_fd(ours)
        try:
            note = scmp.notify_receive(listener)
            seen.append(note)
            assert note.pid in _descendants_and_self(pid) or note.pid == pid
            scmp.notify_respond(listener, note.id, value=0)  # pretend it worked
        finally:
            os.close(listener)

    def child() -> None:
        ours.close()
        execve(BUSYBOX, ["sh", "-c", script], [], program, notify_fd=theirs.detach())

    result = run_exec(child, while_running=agent)
    ours.close()
    assert result.error is None
    assert "mkdir-ok" in result.output
    assert not target.exists()  # the agent answered, the kernel never ran mkdir
    assert seen and seen[0].syscall in {scmp.resolve_syscall(name) for name in MKDIR_SYSCALLS}
    # Neither the notify socket nor the listener (anon_inode:seccomp notify) reached it.
    assert "socket:" not in result.output
    assert "seccomp" not in result.output


def _descendants_and_self(pid: int) -> set[int]:
    found, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.add(child)
            frontier.append(child)
    return found


def test_notify_with_tsync_and_wait_killable_recv_flags_loads(tmp_path: Path) -> None:
    program = _program(
        "SCMP_ACT_NOTIFY",
        listenerPath=str(tmp_path / "agent.sock"),
        flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    )
    wanted = (
        scmp.FILTER_FLAG_NEW_LISTENER
        | scmp.FILTER_FLAG_TSYNC
        | scmp.FILTER_FLAG_TSYNC_ESRCH
        | scmp.FILTER_FLAG_WAIT_KILLABLE_RECV
    )
    assert program.flags == wanted
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def child() -> None:
        ours.close()
        execve(BUSYBOX, ["true"], [], program, notify_fd=theirs.detach())

    def agent(pid: int) -> None:
        theirs.close()
        os.close(receive_listener_fd(ours))

    result = run_exec(child, while_running=agent)
    ours.close()
    assert result.error is None and result.exit_code == 0


def test_full_notify_chain_container_runtime_agent(tmp_path: Path) -> None:
    """container execve -> runtime receives the listener -> send_to_agent -> the agent
    reads the ContainerProcessState and answers the intercepted mkdir with an errno."""
    target = tmp_path / "intercepted"
    agent_path = tmp_path / "agent.sock"
    program = _program("SCMP_ACT_NOTIFY", listenerPath=str(agent_path), listenerMetadata="hello")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(agent_path))
    server.listen(1)
    messages: list[dict] = []

    def agent() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                payload, fds, _, _ = socket.recv_fds(conn, 65536, 1)
            messages.append(json.loads(payload))
            listener = fds[0]
            try:
                note = scmp.notify_receive(listener)
                scmp.notify_respond(listener, note.id, error=errno.EXFULL)
            finally:
                os.close(listener)

    agent_thread = threading.Thread(target=agent)
    agent_thread.start()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def runtime(pid: int) -> None:
        theirs.close()
        listener = receive_listener_fd(ours)
        try:
            target = AgentTarget(program.listener_path, program.listener_metadata)
            send_to_agent(target, listener, pid, {"id": "c1", "pid": pid, "status": "creating"})
        finally:
            os.close(listener)

    def child() -> None:
        ours.close()
        execve(BUSYBOX, ["mkdir", str(target)], [], program, notify_fd=theirs.detach())

    result = run_exec(child, while_running=runtime)
    ours.close()
    agent_thread.join(30)
    assert result.error is None
    assert result.exit_code == 1
    assert os.strerror(errno.EXFULL) in result.output
    assert not target.exists()
    assert messages[0]["fds"] == ["seccompFd"] and messages[0]["metadata"] == "hello"
    assert messages[0]["state"]["status"] == "creating"
