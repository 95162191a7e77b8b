"""The runtime side of `create`: fork the container, answer its requests, wait until ready.

See ociruntime/process/channel.py for the message protocol and child.py for the other side.
"""

from __future__ import annotations

import os

from ociruntime.process.channel import Channel
from ociruntime.process.exits import wait_for_exit
from ociruntime.process.plan import ContainerPlan
from ociruntime.records import record


@record
class SpawnResult:
    init_pid: int


class Stage1:
    """A forked stage 1 that preloads, then waits for "go" (see child.stage1_main)."""

    def __init__(self, pid: int, chan: Channel) -> None:
        self.pid = pid
        self.chan = chan

    def abort(self) -> None:
        """create failed before drive(): end the waiting child (it also exits on EOF)."""
        if self.pid > 0:
            self.chan.close()
            _kill_and_reap(self.pid, 0)
            self.pid = 0


def fork_stage1(plan: ContainerPlan, fifo_path: str) -> Stage1:
    """Fork stage 1 as early as the plan allows; it touches nothing until "go"."""
    parent_chan, child_chan = Channel.pair()
    stage1_pid = os.fork()
    if stage1_pid == 0:
        parent_chan.close()
        from ociruntime.process.child import stage1_main

        stage1_main(plan, child_chan, fifo_path)
        os._exit(1)  # not reached
    child_chan.close()
    return Stage1(stage1_pid, parent_chan)


def spawn_container(plan: ContainerPlan, *, cgroup: object | None, fifo_path: str,
                    hook_state: dict, stage1: Stage1 | None = None) -> SpawnResult:
    """Fork stage 1 (unless forked already), drive the handshake, return once the init
    waits for `start`.

    On any failure the children are killed and reaped and the error is raised; the caller
    removes the cgroup and state dir.
    """
    if stage1 is None:
        stage1 = fork_stage1(plan, fifo_path)
    stage1_pid, parent_chan = stage1.pid, stage1.chan
    stage1.pid = 0  # ours to reap from here on
    init_pid = 0
    try:
        # Stage 1 opens the cgroup files and forks the init into the cgroup (cgroups/join.py).
        join = cgroup.join().to_message() if cgroup is not None else None  # type: ignore[attr-defined]
        parent_chan.send("go", cgroup=join)
        if plan.new_namespace("user"):
            parent_chan.expect("userns")
            write_id_maps(stage1_pid, plan)
            parent_chan.send("maps_done")
        init_pid = int(parent_chan.expect("init_pid")["pid"])
        if plan.new_namespace("user"):
            # Raising a hard limit needs CAP_SYS_RESOURCE in the init user namespace.
            from ociruntime.security.credentials import apply_rlimits

            apply_rlimits(plan.credentials, pid=init_pid)
        _reap(stage1_pid)
        stage1_pid = 0
        hook_state = dict(hook_state, pid=init_pid)
        # prestart (deprecated) and createRuntime: runtime namespace, after the mounts and
        # before pivot_root. With none, "hooks_done" goes ahead of "mounts_ready": the init
        # finds it queued and never waits for this process to wake up (0.4-1.3 ms here).
        runtime_hooks = plan.hooks.get("prestart", []) + plan.hooks.get("createRuntime", [])
        if not runtime_hooks:
            _send_ahead(parent_chan, "hooks_done", state=hook_state)
        parent_chan.expect("mounts_ready")
        if runtime_hooks:
            from ociruntime.hooks import run_hooks

            run_hooks(plan.hooks.get("prestart", []), hook_state, "prestart")
            run_hooks(plan.hooks.get("createRuntime", []), hook_state, "createRuntime")
            parent_chan.send("hooks_done", state=hook_state)
        parent_chan.expect("ready")
        return SpawnResult(init_pid=init_pid)
    except BaseException:
        _kill_and_reap(stage1_pid, init_pid)
        raise
    finally:
        parent_chan.close()


def _send_ahead(chan: Channel, kind: str, **fields: object) -> None:
    """Send a message the child reads later. A child that died meanwhile leaves its error
    record (or EOF) for the next expect() to report; the failed send says less. Any other
    failure (a message too long) is raised: the child would wait for it forever."""
    try:
        chan.send(kind, **fields)
    except (BrokenPipeError, ConnectionResetError):
        pass


def write_id_maps(pid: int, plan: ContainerPlan) -> None:
    from ociruntime.errors import ConfigError

    for name, mappings in (("uid_map", plan.uid_mappings), ("gid_map", plan.gid_mappings)):
        key = "uidMappings" if name == "uid_map" else "gidMappings"
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)
        if not text:
            continue
        try:
            with open(f"/proc/{pid}/{name}", "w") as fh:
                fh.write(text)
        except OSError as err:
            raise ConfigError(f"linux.{key}", f"writing /proc/{pid}/{name}: {err.strerror}") from None


def _reap(pid: int) -> None:
    if pid > 0:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _kill_and_reap(stage1_pid: int, init_pid: int) -> None:
    import _signal as signal  # the C module: no enums to build

    for pid in (init_pid, stage1_pid):
        if pid > 0:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap(stage1_pid)
    if init_pid > 0:
        wait_for_exit(init_pid, timeout=5.0)
