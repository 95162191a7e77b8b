"""`create`: validate and plan everything, then build the container and leave its init
waiting for `start`. On any error every resource made so far is removed again."""

from __future__ import annotations

import os
import time

from ociruntime import faults
from ociruntime.errors import OciError
from ociruntime.records import record
from ociruntime.state.store import FIFO_FILE, ContainerDir, validate_id, write_atomic


@record
class CreateOptions:
    root: str
    container_id: str
    bundle: str = "."
    pid_file: str | None = None
    console_socket: str | None = None
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    systemd_cgroup: bool = False
    detach: bool = True


@record
class Created:
    init_pid: int
    # Foreground terminal (`run` without -d): the pty master, for the caller to proxy and close.
    console_master: int = -1


def create(opts: CreateOptions) -> int:
    """Create the container; return the host pid of its init."""
    created = create_container(opts)
    if created.console_master >= 0:
        os.close(created.console_master)
    return created.init_pid


def create_container(opts: CreateOptions) -> Created:
    """Create the container; with a foreground terminal also return the pty master."""
    from ociruntime.process.plan import build_plan, resolve_bundle
    from ociruntime.spec.load import load_config

    validate_id(opts.container_id)
    bundle = resolve_bundle(opts.bundle)
    pid_file = os.path.abspath(opts.pid_file) if opts.pid_file else None
    config = load_config(bundle)
    from ociruntime.console.link import check_terminal

    check_terminal(bool((config.get("process") or {}).get("terminal")), opts.detach, opts.console_socket)
    cdir = ContainerDir(opts.root, opts.container_id)
    plan = build_plan(config, container_id=opts.container_id, bundle=bundle, state_dir=cdir.path,
                      no_pivot=opts.no_pivot, no_new_keyring=opts.no_new_keyring,
                      preserve_fds=opts.preserve_fds + _listen_fds(config))
    cgroup = _cgroup_manager(config, opts)
    from ociruntime.console.link import ConsoleLink
    from ociruntime.process.parent import fork_stage1, spawn_container

    console = ConsoleLink()
    stage1 = None
    try:
        # Connected before the fork, as runc does; the init inherits it.
        plan.console_fd = console.open(bool(config["process"].get("terminal")), opts.console_socket)
        # Stage 1 preloads while we make the state dir and the cgroup. Not with the sd_notify
        # proxy: that adds a mount to the plan once the state dir exists.
        if not os.environ.get("NOTIFY_SOCKET"):
            stage1 = fork_stage1(plan, cdir.file(FIFO_FILE))
        cdir.claim()
    except BaseException:
        console.close()
        if stage1 is not None:
            stage1.abort()
        raise
    faults.point("after_state_dir")
    created_cgroup = False
    try:
        if os.environ.get("NOTIFY_SOCKET"):  # sd_notify proxy: mount and env for the container
            from ociruntime.lifecycle.notify_socket import add_to_plan

            add_to_plan(plan, cdir.path)
        cdir.write_config(config)
        os.mkfifo(cdir.file(FIFO_FILE), 0o622)
        state = _initial_state(config, opts.container_id, bundle, plan.rootfs)
        if cgroup is not None:
            _record_planned_cgroup(cdir, state, cgroup)
            cgroup.create()
            created_cgroup = True
            state["cgroup"] = cgroup.to_state()
            faults.point("after_cgroup")
        cdir.write_state(state)  # pid 0: a crash from here on is cleaned by `delete --force`
        faults.point("after_state_written")
        hook_state = {"ociVersion": state["ociVersion"], "id": opts.container_id, "status": "created",
                      "bundle": bundle, "annotations": state["annotations"]}
        result = spawn_container(plan, cgroup=cgroup, fifo_path=cdir.file(FIFO_FILE), hook_state=hook_state,
                                 stage1=stage1)
        console.finish()
        from ociruntime.state.status import read_start_time

        state["pid"] = result.init_pid
        state["start_time"] = read_start_time(result.init_pid)
        cdir.write_state(state)
        faults.point("before_pid_file")
        if pid_file:
            write_atomic(pid_file, str(result.init_pid).encode(), 0o644)
        faults.point("after_pid_file")
        return Created(result.init_pid, console.take_master())
    except BaseException as exc:
        console.close()
        if stage1 is not None:
            stage1.abort()  # a no-op once spawn_container took it over
        if created_cgroup:
            try:
                cgroup.destroy(force=True)
            except OSError:
                pass
        if os.path.lexists(cdir.file("rootfs")):
            from ociruntime.rootfs import cleanup_host_mounts

            cleanup_host_mounts(cdir.path)
        cdir.remove()
        if isinstance(exc, OSError):  # ENOSPC, EROFS... on --root: one line, no traceback
            raise _os_error(exc) from None
        raise


def _record_planned_cgroup(cdir: ContainerDir, state: dict, cgroup) -> None:
    """Save the cgroup directories create() is about to make before making them: if this
    process dies before the final state.json, `delete --force` still finds and removes them."""
    from ociruntime.cgroups.dirs import ancestors

    planned: list[str] = []
    for hierarchy in cgroup.hierarchies.values():
        leaf, mount = hierarchy["dir"], hierarchy["mount"]
        for path in ancestors(leaf, mount)[1:] + [leaf]:
            if path not in planned and not os.path.isdir(path):
                planned.append(path)
    cgroup.created = planned
    state["cgroup"] = cgroup.to_state()
    cdir.write_state(state)


def _os_error(err: OSError) -> OciError:
    from ociruntime.errors import KernelError

    text = err.strerror or str(err)
    return KernelError(f"{text}: {err.filename}" if err.filename else text, err.errno or 0)


def _initial_state(config: dict, container_id: str, bundle: str, rootfs_plan: object) -> dict:
    now = time.time_ns()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}Z"
    root_path = (config.get("root") or {}).get("path", "")
    return {
        "ociVersion": config.get("ociVersion", ""),
        "id": container_id,
        "pid": 0,
        "start_time": None,
        "bundle": bundle,
        "rootfs": os.path.join(bundle, root_path) if root_path else "",
        "created": created,
        "annotations": config.get("annotations") or {},
    }


def _cgroup_manager(config: dict, opts: CreateOptions):  # -> CgroupManager | None
    from ociruntime.cgroups import manager_for

    return manager_for(config, opts.container_id, systemd=opts.systemd_cgroup)


def _listen_fds(config: dict) -> int:
    """Socket activation: pass $LISTEN_FDS fds through, as runc does."""
    try:
        count = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return 0
    if count > 0:
        env = config["process"].setdefault("env", [])
        env[:] = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
        env += [f"LISTEN_FDS={count}", "LISTEN_PID=1"]
    return max(count, 0)
