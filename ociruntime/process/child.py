"""Code that runs in the forked container processes.

Stage 1 ("1:CHILD") joins and creates namespaces (user first, so the parent can write the id
maps), then forks the container init ("2:INIT") into the container's cgroup. The init joins
the rest of the cgroup, becomes root of a new user namespace and makes a new cgroup
namespace (both after the join: see cgroups/join.py), is PID 1 of a new PID namespace, sets
up the rootfs, and waits for `start` on the exec fifo. Neither stage ever returns: each
ends in os._exit or execve. Errors travel to the parent as records on the channel.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: signal.py builds enums at import (~4 ms)
import sys

from ociruntime import faults
from ociruntime.cgroups.join import CgroupJoin
from ociruntime.process.channel import Channel, error_record
from ociruntime.process.names import set_stage_name
from ociruntime.process.plan import ContainerPlan

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

START_ERROR_FILE = "start.error"

# Signals a waiting init should die from (Python's default for these is to ignore them as a
# PID-namespace init, which would make `kill` of a created container a no-op).
_FATAL_WHILE_WAITING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                        signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


def stage1_main(plan: ContainerPlan, chan: Channel, fifo_path: str) -> None:
    """Forked by `create` as soon as the plan is built, so the preload below overlaps the
    parent's state dir and cgroup set-up; "go" means both exist and names the cgroup the
    init is to be forked into (cgroups/join.py)."""
    stage = "1:CHILD"
    try:
        from ociruntime.linux.procattr import set_dumpable

        # Non-dumpable before joining anything (CVE-2019-5736): no /proc/<pid>/exe games.
        from ociruntime.security.credentials import apply_oom_score_adj

        # oom_score_adj first: it needs the host's /proc and, when lowering, privileges
        # that a new user namespace would take away (runc does the same).
        apply_oom_score_adj(plan.credentials)
        set_dumpable(False)
        set_stage_name(stage, plan.container_id)
        from ociruntime.process.preload import SECCOMP_AGENT, preload_for_container

        needs_agent = plan.seccomp is not None and plan.seccomp.needs_listener
        preload_for_container(skip=frozenset() if needs_agent else frozenset({SECCOMP_AGENT}))
        if plan.console_fd >= 0:  # as host root: a user namespace may not read the runtime's files
            import ociruntime.console.setup  # noqa: F401
        go = chan.expect("go")
        join = CgroupJoin.from_message(go["cgroup"]) if go.get("cgroup") else None
        if join is not None:
            join.open()  # while the host's cgroup mounts are in view, as host root
        # Opened as host root before any user namespace, once the parent made the state dir:
        # the exec fifo the init waits on, and start.error, where a failure between `start`
        # and exec is written for `start` to report (close-on-exec: the process never sees
        # them; an empty file means no error).
        fifo_fd = os.open(fifo_path, os.O_RDWR | os.O_CLOEXEC)
        error_fd = os.open(os.path.join(plan.state_dir, START_ERROR_FILE),
                           os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        agent_sock = _listen_for_start(plan)  # after "go": an error now reaches the parent
        _join_namespaces(plan)
        _create_user_namespace(plan, chan)
        _unshare_rest(plan)
        faults.point("stage1_after_namespaces")
        # The init waits on this pipe so that "init_pid" reaches the parent before any
        # message of the init's own (both write to the same channel).
        go_r, go_w = os.pipe()
        pid = join.fork() if join is not None else os.fork()
        if pid == 0:
            os.close(go_w)
            os.read(go_r, 1)
            os.close(go_r)
            init_main(plan, chan, fifo_fd, error_fd, agent_sock, join)
        if join is not None:
            join.close()
        chan.send("init_pid", pid=pid)
        os.write(go_w, b"1")
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent
        _report_and_exit(chan, stage, exc)


def _listen_for_start(plan: ContainerPlan) -> socket.socket | None:
    """SCMP_ACT_NOTIFY: check the agent's socket now (runc fails at create too), and bind
    the socket `start` connects to for the listener (see security/seccomp_agent.py)."""
    if plan.seccomp is None or not plan.seccomp.needs_listener:
        return None
    from ociruntime.security import seccomp_agent

    seccomp_agent.check_agent_socket(plan.seccomp.listener_path)
    return seccomp_agent.listen_in_state_dir(plan.state_dir)


def _report_and_exit(chan: Channel, stage: str, exc: BaseException) -> None:
    try:
        chan.send("error", **error_record(stage, exc))
    except OSError:
        pass
    os._exit(1)


def _join_namespaces(plan: ContainerPlan) -> None:
    """setns into every namespace given by path; the user namespace first, as runc does."""
    from ociruntime.errors import ConfigError
    from ociruntime.linux import namespaces as ns

    ordered = sorted((n for n in plan.namespaces if n.path), key=lambda n: n.type != "user")
    for index_ns in ordered:
        index = plan.namespaces.index(index_ns)
        flag = ns.NAMESPACE_FLAGS[index_ns.type]
        try:
            fd = os.open(index_ns.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise ConfigError(f"linux.namespaces[{index}].path",
                              f"cannot open {index_ns.path}: {err.strerror}") from None
        try:
            try:
                actual = ns.namespace_type(fd)
            except OSError:
                raise ConfigError(f"linux.namespaces[{index}].path",
                                  f"{index_ns.path} is not a namespace") from None
            if actual != flag:
                raise ConfigError(f"linux.namespaces[{index}].path",
                                  f"{index_ns.path} is not a {index_ns.type} namespace")
            ns.setns(fd, flag)
        finally:
            os.close(fd)


def _create_user_namespace(plan: ContainerPlan, chan: Channel) -> None:
    if not plan.new_namespace("user"):
        return
    from ociruntime.linux import namespaces as ns

    ns.unshare(ns.CLONE_NEWUSER)
    chan.send("userns")
    chan.expect("maps_done")


def _unshare_rest(plan: ContainerPlan) -> None:
    from ociruntime.linux import namespaces as ns

    flags = 0
    for spec in plan.namespaces:
        if spec.path is None and spec.type not in ("user", "cgroup"):  # the init makes cgroup
            flags |= ns.NAMESPACE_FLAGS[spec.type]
    if flags:
        ns.unshare(flags)
    if plan.new_namespace("time") and plan.time_offsets:
        _write_time_offsets(plan.time_offsets)


def _write_time_offsets(offsets: dict[str, dict]) -> None:
    lines = []
    for clock, value in offsets.items():
        lines.append(f"{clock} {int(value.get('secs', 0))} {int(value.get('nanosecs', 0))}\n")
    with open("/proc/self/timens_offsets", "w") as fh:
        fh.write("".join(lines))


# ---------------------------------------------------------------------------------------
# The container init (stage 2)
# ---------------------------------------------------------------------------------------

def init_main(plan: ContainerPlan, chan: Channel, fifo_fd: int, error_fd: int,
              agent_sock: socket.socket | None = None, join: CgroupJoin | None = None) -> None:
    stage = "2:INIT"
    try:
        # A session of its own, as runc's init: no controlling terminal, so /dev/tty cannot
        # reach (or TIOCSTI type into) the caller's terminal; a console takes it as its tty.
        os.setsid()
        if join is not None:
            join.enter()
        if plan.new_namespace("user"):
            # Root of the new user namespace (mapped to whatever host id the config chose);
            # only now: as host root, stage 1 could fork us into the cgroup.
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        if plan.new_namespace("cgroup"):
            from ociruntime.linux import namespaces as ns

            ns.unshare(ns.CLONE_NEWCGROUP)  # after the join: the cgroup is the namespace's root
        set_stage_name(stage, plan.container_id)
        for sig in _FATAL_WHILE_WAITING:
            signal.signal(sig, _die_by_signal)
        executable, hook_state = _set_up_container(plan, chan)
        # runc's order: the user, capabilities and cwd are final before the init waits for
        # `start`, so their errors fail `create` and `start` waits only for the exec. Not with
        # startContainer hooks: those run after `start`, and as root (the switch follows them).
        dropped_before_start = not plan.hooks.get("startContainer")
        if dropped_before_start:
            _become_the_process(plan)
        faults.point("before_ready")
        if plan.dmz_waits:
            # The trampoline waits for `start` in our place and sends "ready" itself once
            # it runs (filter loaded, final capabilities): a failure up to then fails `create`.
            _exec_user_process(plan, executable, error_fd=error_fd, fifo_fd=fifo_fd, ready_chan=chan)
        chan.send("ready")
        chan.close()
    except BaseException as exc:  # noqa: BLE001
        _report_and_exit(chan, stage, exc)
    try:
        _wait_for_start(fifo_fd)
        notify_fd = -1
        if agent_sock is not None:  # `start` connected before it wrote the fifo
            from ociruntime.security.seccomp_agent import accept_runtime

            notify_fd = accept_runtime(agent_sock)
        if not dropped_before_start:
            from ociruntime.hooks import run_hooks

            run_hooks(plan.hooks.get("startContainer", []), hook_state, "startContainer")
            _become_the_process(plan)
        _exec_user_process(plan, executable, notify_fd, error_fd=error_fd, fifo_fd=fifo_fd)
    except BaseException as exc:  # noqa: BLE001
        message = error_record("start", exc)["message"]
        try:
            os.write(error_fd, message.encode())
        except OSError:
            sys.stderr.write(f"ociruntime: {message}\n")
            sys.stderr.flush()
        os._exit(127 if isinstance(exc, FileNotFoundError) else 1)


def _die_by_signal(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


def _set_up_container(plan: ContainerPlan, chan: Channel) -> tuple[str, dict]:
    from ociruntime import rootfs
    from ociruntime.hooks import run_hooks
    from ociruntime.security import credentials

    rootfs.prepare_rootfs(plan.rootfs)
    faults.point("init_after_mounts")
    chan.send("mounts_ready")
    hook_state = chan.expect("hooks_done").get("state", {})
    # createContainer hooks: in the container's namespaces, before pivot_root; the path
    # resolves in the runtime's filesystem, which is still visible here.
    run_hooks(plan.hooks.get("createContainer", []), hook_state, "createContainer")
    rootfs.enter_rootfs(plan.rootfs)
    if plan.console_fd >= 0:  # after pivot_root (the container's devpts), before read-only
        from ociruntime.console.setup import set_up_console

        set_up_console(plan.console_fd, plan.console_size, proc=plan.rootfs.state.proc,
                       mount_console=plan.rootfs.mount_ns != "host")
        plan.console_fd = -1
    _set_names(plan)
    _apply_sysctl(plan.sysctl)  # before readonlyPaths make /proc/sys read-only
    _prepare_cwd(plan.cwd)  # before root.readonly, as runc makes it
    rootfs.finalize_rootfs(plan.rootfs)
    if plan.new_namespace("network"):
        _bring_up_loopback()
    if not plan.new_namespace("user"):  # else the parent set them (see parent.py)
        credentials.apply_rlimits(plan.credentials)
    if not plan.no_new_keyring:
        from ociruntime.linux.system import join_session_keyring

        join_session_keyring(f"_ses.{plan.container_id}")
    plan.env = with_home(plan.env, plan.credentials.uid)
    return find_executable(plan.args, plan.env, plan.cwd), hook_state


def _set_names(plan: ContainerPlan) -> None:
    from ociruntime.linux import system

    if plan.hostname is not None:
        system.sethostname(plan.hostname)
    if plan.domainname is not None:
        system.setdomainname(plan.domainname)


def _apply_sysctl(sysctl: dict[str, str]) -> None:
    if not sysctl:
        return
    from ociruntime.errors import ConfigError
    from ociruntime.linux import fs

    for key, value in sysctl.items():
        field = f'linux.sysctl["{key}"]'
        rel = key.replace(".", "/")
        path = f"/proc/sys/{rel}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as err:
            raise ConfigError(field, f"cannot open {path}: {err.strerror}") from None
        try:
            if fs.fstatfs_type(fd) != fs.PROC_SUPER_MAGIC:  # a bind mount over /proc/sys (CVE-2025-52881)
                raise ConfigError(field, f"{path} is not on procfs")
            os.write(fd, value.encode())
        except OSError as err:
            raise ConfigError(field, f"write {value!r} to {path}: {err.strerror}") from None
        finally:
            os.close(fd)


def _bring_up_loopback() -> None:
    """A new network namespace starts with lo down; runc brings it up."""
    import _socket  # the C module: socket.py is not preloaded (~2-4 ms per create)
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, req))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))
    finally:
        sock.close()


BREAKOUT_CWD = ("unable to start container process: current working directory is outside of "
                "container mount namespace root -- possible container breakout detected")  # runc's text


def _prepare_cwd(cwd: str) -> None:
    """runc creates a missing cwd (as root, before switching user). Its deepest existing
    ancestor is entered and checked first, so nothing is created through a magic link such
    as /proc/self/fd/<n> naming a host directory (CVE-2024-21626)."""
    existing = cwd
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    enter_cwd(existing)
    os.makedirs(cwd, mode=0o755, exist_ok=True)


def enter_cwd(cwd: str) -> None:
    """chdir, then refuse a cwd the container's root does not reach: a /proc/self/fd/<n>
    of a preserved (or leaked) host directory fd (CVE-2024-21626). getcwd fails with ENOENT
    (the kernel's "(unreachable)" path) for exactly those."""
    from ociruntime.errors import OciError

    os.chdir(cwd)
    try:
        reachable = os.getcwd().startswith("/")
    except FileNotFoundError:
        reachable = False
    if not reachable:
        raise OciError(BREAKOUT_CWD)


def with_home(env: list[str], uid: int) -> list[str]:
    """runc sets HOME from the container's /etc/passwd (or "/") when the config has none."""
    if any(e.startswith("HOME=") for e in env):
        return env
    home = "/"
    try:
        with open("/etc/passwd", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    home = fields[5] or "/"
                    break
    except OSError:
        pass
    return env + [f"HOME={home}"]


def find_executable(args: list[str], env: list[str], cwd: str) -> str:
    """Resolve args[0] like runc (exec.LookPath with the container's PATH), inside the rootfs."""
    from ociruntime.errors import OciError

    if not args:
        raise OciError("process.args must not be empty", code="config.invalid")
    name = args[0]
    prefix = "unable to start container process: exec: "
    if "/" in name:
        path = name if name.startswith("/") else os.path.join(cwd, name)
        try:
            st = os.stat(path)
        except OSError as err:
            raise OciError(f'{prefix}"{name}": stat {name}: {err.strerror.lower()}') from None
        if not _is_executable_file(st):
            raise OciError(f'{prefix}"{name}": permission denied')
        return path
    search = next((e[5:] for e in env if e.startswith("PATH=")), "")
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if _is_executable_file(st):
            return candidate
    raise OciError(f'{prefix}"{name}": executable file not found in $PATH')


def _is_executable_file(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def _wait_for_start(fifo_fd: int) -> None:
    """Block until `start` writes a byte into the exec fifo (we hold it O_RDWR)."""
    while True:
        data = os.read(fifo_fd, 1)
        if data:
            return


def _become_the_process(plan: ContainerPlan) -> None:
    """LSM label, user, groups, capabilities, umask and cwd of process.*, and only the fds
    the process may inherit; what is left for the exec step is seccomp and the final sets."""
    from ociruntime.security import credentials

    credentials.apply_lsm(plan.credentials)
    try:  # as root first: a cwd only root can reach still works (runc does the same)
        os.chdir(plan.cwd)
    except OSError:
        pass
    credentials.apply_user_and_capabilities(plan.credentials, seccomp_pending=plan.seccomp is not None)
    enter_cwd(plan.cwd)
    # Only 0-2 and the preserved fds survive exec (CVE-2024-21626): the rest become CLOEXEC,
    # which also keeps the exec fifo open until the exec itself (`start` waits for that).
    # notify_fd (and the listener) are closed by the C code before execve.
    keep_only_stdio_and_preserved(plan.preserve_fds)


def _exec_user_process(plan: ContainerPlan, executable: str, notify_fd: int = -1,
                       error_fd: int = -1, fifo_fd: int = -1, ready_chan: Channel | None = None) -> None:
    """Exec the target through ociruntime-dmz. With ready_chan (before `start`), the
    trampoline sends "ready" on it and waits for the exec fifo itself."""
    from ociruntime.linux.exec import DmzReport, execve, percent_escaped
    from ociruntime.security import credentials

    reset_signals()  # only now: the handlers let a signal end the init while it waits
    faults.point("init_before_execve")
    # Through the ociruntime-dmz trampoline (CVE-2019-5736: never execve from the host
    # interpreter). The fifo and start.error stay open until the target's execve, so
    # `start` still returns after it; the trampoline reports a failed execve as we do below.
    template = f"start: execve {percent_escaped(executable)}: %s"
    if ready_chan is None:
        report = DmzReport(error_fd, template, carried=(fifo_fd,))
    else:
        report = DmzReport(error_fd, template, wait_fd=fifo_fd, ready_fd=ready_chan.fileno(),
                           ready_message=Channel.packet("ready").decode())
    execve(executable, plan.args, plan.env, plan.seccomp, notify_fd=notify_fd,
           capabilities=credentials.exec_capabilities(plan.credentials), dmz=report)


def reset_signals() -> None:
    """Default dispositions before exec: Python ignores SIGPIPE/SIGXFSZ; the process must not."""
    for sig in range(1, signal.NSIG):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def keep_only_stdio_and_preserved(preserve_fds: int) -> None:
    """Only 0-2 and the preserved fds survive exec (CVE-2024-21626): the rest become
    close-on-exec, so fds that signal "exec happened" (fifo, channel) stay open until then."""
    from ociruntime.linux.system import close_range

    first_closed = 3 + preserve_fds
    for fd in range(3, first_closed):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    close_range(first_closed, cloexec=True)
