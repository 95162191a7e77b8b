"""`exec`: run another process inside a running container."""

from __future__ import annotations

import os

from ociruntime.errors import ContainerStateError, OciError
from ociruntime.lifecycle.container import load
from ociruntime.records import Factory, record
from ociruntime.state import status as st
from ociruntime.state.store import write_atomic


@record
class ExecOptions:
    root: str
    container_id: str
    process: dict | None = None  # a process.json object; else built from the fields below
    args: list[str] = Factory(list)
    env: list[str] = Factory(list)
    cwd: str | None = None
    user: str | None = None
    additional_gids: list[int] = Factory(list)
    caps: list[str] = Factory(list)
    no_new_privs: bool = False
    tty: bool = False
    apparmor: str | None = None
    process_label: str | None = None
    detach: bool = False
    pid_file: str | None = None
    console_socket: str | None = None
    preserve_fds: int = 0
    ignore_paused: bool = False


def exec_process(opts: ExecOptions) -> int:
    """Start the process; with detach return 0 once it runs, else wait and return its
    exit code (128+signal when killed)."""
    container = load(opts.root, opts.container_id, shared_lock=True)
    status = container.status()
    if status == st.STOPPED:
        raise ContainerStateError("cannot exec in a stopped container")
    if status == st.PAUSED and not opts.ignore_paused:
        raise ContainerStateError("cannot exec in a paused container (use --ignore-paused to override)")
    config = container.dir.read_config()
    process = opts.process if opts.process is not None else _process_from_flags(config, opts)
    terminal = bool(process.get("terminal"))
    from ociruntime.console.link import check_terminal

    check_terminal(terminal, opts.detach, opts.console_socket)
    plan = _plan(container, config, process, opts)
    if terminal and not opts.detach:
        plan.console_size = _caller_window_size() or plan.console_size
    if not opts.detach:
        from ociruntime.linux.procattr import set_child_subreaper

        set_child_subreaper()
    from ociruntime.console.link import ConsoleLink

    console = ConsoleLink()
    try:
        plan.console_fd = console.open(terminal, opts.console_socket)
        forward_listener = _listener_forwarder(container, plan)
        pid = _spawn(plan, container.cgroup(), forward_listener)
        console.finish()
    except BaseException:
        console.close()
        raise
    master = console.take_master()
    # The process runs: `update`, `pause`, `delete` need not wait for it behind our lock.
    container.dir.unlock()
    host_terminal = None
    try:
        if opts.pid_file:
            write_atomic(os.path.abspath(opts.pid_file), str(pid).encode(), 0o644)
        if opts.detach:
            return 0
        from ociruntime.lifecycle.foreground import exit_code, forward_signals, wait_for

        forward_signals(pid)
        if master >= 0:  # terminal in the foreground: proxy it to our stdio (runc exec -t)
            from ociruntime.console.proxy import HostTerminal

            host_terminal = HostTerminal(master)
            host_terminal.proxy(pid)
        return exit_code(wait_for(pid))
    finally:
        if host_terminal is not None:
            host_terminal.close()
        if master >= 0:
            os.close(master)


def _caller_window_size() -> tuple[int, int] | None:
    """The size of the terminal on our stdin: the process starts with it (runc exec -t)."""
    if not os.isatty(0):
        return None
    from ociruntime.console.pty import window_size

    rows, cols = window_size(0)
    return (rows, cols) if rows and cols else None


def _copy_json(value: object) -> object:
    """A deep copy of parsed JSON (dicts, lists, scalars): copy.deepcopy imports weakref
    and copyreg, ~1.5 ms on every exec."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _process_from_flags(config: dict, opts: ExecOptions) -> dict:
    """runc's exec without -p: the container's process with the given overrides."""
    base = _copy_json(config.get("process") or {})
    if not opts.args:
        raise OciError("exec: no command given (args or --process)", code="usage.invalid")
    base["args"] = list(opts.args)
    _check_flags(opts)
    base["env"] = list(base.get("env") or []) + list(opts.env)
    base["terminal"] = opts.tty
    if opts.cwd:
        base["cwd"] = opts.cwd
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        try:
            base["user"] = dict(base.get("user") or {}, uid=int(uid), gid=int(gid or 0))
        except ValueError:
            raise OciError(f'exec: --user "{opts.user}": expected uid[:gid] numbers',
                           code="usage.invalid") from None
    if opts.additional_gids:
        base.setdefault("user", {})["additionalGids"] = list(opts.additional_gids)
    if opts.caps:
        caps = base.setdefault("capabilities", {})
        for key in ("bounding", "effective", "permitted", "ambient"):
            caps[key] = list(caps.get(key) or []) + [c for c in opts.caps if c not in (caps.get(key) or [])]
    if opts.no_new_privs:
        base["noNewPrivileges"] = True
    if opts.apparmor:
        base["apparmorProfile"] = opts.apparmor
    if opts.process_label:
        base["selinuxLabel"] = opts.process_label
    return base


def _check_flags(opts: ExecOptions) -> None:
    """The flags' own errors, named as flags (the process they make is checked like a
    config.json's afterwards, whose messages would name config.json)."""
    def refuse(flag: str, value: str, why: str) -> None:
        raise OciError(f'exec: {flag} "{value}": {why}', code="usage.invalid")

    if opts.cwd and not opts.cwd.startswith("/"):
        refuse("--cwd", opts.cwd, "Cwd must be an absolute path")
    for entry in opts.env:
        if "=" not in entry or entry.startswith("="):
            refuse("--env", entry, "invalid environment variable (want NAME=value)")
    if opts.caps:
        from ociruntime.spec.names import CAPABILITIES

        for cap in opts.caps:
            if cap not in CAPABILITIES:
                refuse("--cap", cap, "not a known capability (names look like CAP_SYS_ADMIN)")


def _plan(container, config: dict, process: dict, opts: ExecOptions):  # -> ExecPlan
    from ociruntime.process.exec_child import ExecPlan
    from ociruntime.process.plan import console_size
    from ociruntime.security.credentials import plan_credentials

    linux = config.get("linux") or {}
    seccomp = None
    if linux.get("seccomp") is not None:
        from ociruntime.security.seccomp_cache import compile_cached

        seccomp = compile_cached(linux["seccomp"], container.dir.root)
    namespaces = [ns["type"] for ns in linux.get("namespaces") or []]
    return ExecPlan(
        container_id=container.id, init_pid=container.pid, namespaces=namespaces,
        args=list(process.get("args") or []), env=list(process.get("env") or []),
        cwd=process.get("cwd") or "/", credentials=plan_credentials(process),
        seccomp=seccomp, preserve_fds=opts.preserve_fds,
        console_size=console_size(process),
    )


def _listener_forwarder(container, plan):  # -> Callable[[socket, int], None] | None
    """SCMP_ACT_NOTIFY: the exec'd process loads the container's filter too and sends its
    listener to us; we forward it to the agent with the container's state (runc does the
    same for a setns process). The agent's socket is checked before anything is forked."""
    if plan.seccomp is None or not plan.seccomp.needs_listener:
        return None
    from ociruntime.security import seccomp_agent

    target = seccomp_agent.AgentTarget(plan.seccomp.listener_path, plan.seccomp.listener_metadata)
    seccomp_agent.check_agent_socket(target.path)

    def forward(sock, pid: int) -> None:
        seccomp_agent.forward(sock, target, pid, container.hook_state("running"))

    return forward


def _spawn(plan, cgroup, forward_listener=None) -> int:
    from ociruntime.process.channel import Channel
    from ociruntime.process.exec_child import exec_stage1
    from ociruntime.process.parent import _kill_and_reap, _reap

    listener_sock = None
    if forward_listener is not None:
        import socket  # only for a seccomp agent: socket.py costs ~4 ms to import

        listener_sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        plan.notify_fd = theirs.detach()  # close-on-exec; the C code closes it before execve
    # Stage 1 is born in the container's cgroup v2 directory and joins the v1 ones itself
    # (cgroups/join.py): no cgroup.procs write by us, no RCU grace period to wait for.
    join = cgroup.join() if cgroup is not None else None
    parent_chan, child_chan = Channel.pair()
    try:
        stage1 = join.fork() if join is not None else os.fork()
    except BaseException:
        parent_chan.close()
        child_chan.close()
        if listener_sock is not None:
            listener_sock.close()
        raise
    if stage1 == 0:
        parent_chan.close()
        if listener_sock is not None:
            listener_sock.close()
        exec_stage1(plan, child_chan, join)
        os._exit(1)
    if join is not None:
        join.close()
    child_chan.close()
    if listener_sock is not None:
        os.close(plan.notify_fd)
        plan.notify_fd = -1
    pid = 0
    try:
        parent_chan.send("go")
        pid = int(parent_chan.expect("init_pid")["pid"])
        _reap(stage1)
        stage1 = 0
        parent_chan.expect("ready")
        # EOF after "ready" means the exec happened (the channel is close-on-exec); an
        # error record means it failed.
        msg = parent_chan.recv()
        if msg is not None and msg.get("type") == "error":
            from ociruntime.process.channel import error_from_record

            raise error_from_record(msg)
        if listener_sock is not None:  # the process exec'd: its listener is queued for us
            forward_listener(listener_sock, pid)
        return pid
    except BaseException:
        _kill_and_reap(stage1, pid)
        raise
    finally:
        parent_chan.close()
        if listener_sock is not None:
            listener_sock.close()
