"""The processes `exec` forks: stage 1 joins the container's namespaces, then forks the
process that runs process.args inside them (so it is inside the PID namespace too)."""

from __future__ import annotations

import os

from ociruntime import faults
from ociruntime.process.channel import Channel, error_record
from ociruntime.process.names import set_stage_name
from ociruntime.records import record

TYPE_CHECKING = False  # `import typing` costs ~8 ms on every exec
if TYPE_CHECKING:
    from typing import Any

    from ociruntime.cgroups.join import CgroupJoin
    from ociruntime.linux.exec import DmzReport

# Join order: user first (it grants the rights for the others), mount last but one so
# the /proc/<pid>/ns paths stay reachable until the fds are open anyway, time last.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "mount", "time")


@record
class ExecPlan:
    container_id: str
    init_pid: int
    namespaces: list[str]  # OCI types the container has its own of
    args: list[str]
    env: list[str]
    cwd: str
    credentials: Any
    seccomp: Any
    preserve_fds: int
    console_fd: int = -1  # process.terminal: socket to send the pty master over (closed after)
    console_size: tuple[int, int] | None = None  # (rows, cols) from process.consoleSize
    notify_fd: int = -1  # SCMP_ACT_NOTIFY: socket the C code sends the listener over (closed after)


def exec_stage1(plan: ExecPlan, chan: Channel, join: CgroupJoin | None = None) -> None:
    stage = "1:EXEC"
    try:
        if join is not None:
            join.enter()  # first: our children inherit the cgroup (cgroups/join.py)
        from ociruntime.linux import namespaces as ns
        from ociruntime.linux.procattr import set_dumpable
        from ociruntime.security.credentials import apply_oom_score_adj

        apply_oom_score_adj(plan.credentials)
        set_dumpable(False)
        set_stage_name(stage, plan.container_id)
        from ociruntime.process.preload import EXEC_PACKAGES, SECCOMP_AGENT, preload_for_container

        preload_for_container(EXEC_PACKAGES, skip=frozenset({SECCOMP_AGENT}))  # the parent forwards
        if plan.console_fd >= 0:
            import ociruntime.console.setup  # noqa: F401 - before setns(mnt) hides the runtime's files
        chan.expect("go")
        fds = []
        for ns_type in JOIN_ORDER:
            if ns_type in plan.namespaces:
                path = f"/proc/{plan.init_pid}/ns/{ns.PROC_NS_NAMES[ns_type]}"
                fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), ns.NAMESPACE_FLAGS[ns_type]))
        for fd, flag in fds:
            ns.setns(fd, flag)
            os.close(fd)
        go_r, go_w = os.pipe()  # see child.py: "init_pid" must come first on the channel
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            os.read(go_r, 1)
            os.close(go_r)
            exec_process(plan, chan)
        chan.send("init_pid", pid=pid)
        os.write(go_w, b"1")
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        _report(chan, stage, exc)


def _report(chan: Channel, stage: str, exc: BaseException) -> None:
    try:
        chan.send("error", **error_record(stage, exc))
    except OSError:
        pass
    os._exit(1)


def exec_process(plan: ExecPlan, chan: Channel) -> None:
    stage = "2:EXEC"
    try:
        from ociruntime.linux.exec import execve
        from ociruntime.process.child import (
            enter_cwd,
            find_executable,
            keep_only_stdio_and_preserved,
            reset_signals,
            with_home,
        )
        from ociruntime.security import credentials

        set_stage_name(stage, plan.container_id)
        os.setsid()  # its own session, as runc's: the caller's terminal stays out of reach
        if plan.console_fd >= 0:  # /dev/pts is the container's now; no /dev/console for exec
            from ociruntime.console.setup import set_up_console

            set_up_console(plan.console_fd, plan.console_size, mount_console=False)
            plan.console_fd = -1
        credentials.apply_rlimits(plan.credentials)
        plan.env = with_home(plan.env, plan.credentials.uid)
        executable = find_executable(plan.args, plan.env, plan.cwd)
        credentials.apply_lsm(plan.credentials)
        credentials.apply_user_and_capabilities(plan.credentials, seccomp_pending=plan.seccomp is not None)
        enter_cwd(plan.cwd)  # CVE-2024-21626: never a host directory
        reset_signals()
        chan.send("ready")
        keep_only_stdio_and_preserved(plan.preserve_fds)  # the channel too: EOF says we exec'd
        faults.point("exec_before_execve")
        execve(executable, plan.args, plan.env, plan.seccomp, notify_fd=plan.notify_fd,
               capabilities=credentials.exec_capabilities(plan.credentials),
               dmz=_dmz_report(chan, stage, executable))
    except BaseException as exc:  # noqa: BLE001
        _report(chan, stage, exc)


def _dmz_report(chan: Channel, stage: str, executable: str) -> DmzReport:
    """The ociruntime-dmz trampoline does the last execve (CVE-2019-5736) and reports its
    failure as _report would: one error record on the channel, which stays open until the
    target's execve (its EOF tells `exec` that the exec happened)."""
    from ociruntime.linux.exec import DmzReport, percent_escaped
    from ociruntime.state import jsonfast

    message = jsonfast.dumps(percent_escaped(f"{stage}: execve {executable}: ")).removesuffix('"') + '%s"'
    record = (f'{{"stage": {jsonfast.dumps(percent_escaped(stage))}, "errno": %d, "message": {message}, '
              f'"code": "kernel.error", "type": "error"}}')
    return DmzReport(chan.fileno(), record)
