"""Hooks: order, the state JSON on stdin with the right status per hook, args, env, timeout,
and what a failing hook does (runtime-spec config.md "POSIX-platform Hooks", runtime.md
"Lifecycle").

runc 1.1.5 runs poststart hooks at the end of `create` (with status "created"), and ignores a
failing startContainer hook in `start`; the spec puts poststart after the user process started
and makes a startContainer failure an error. The spec's version is tested as ours_only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import leaks, procs
from helpers.containers import create

CREATE_HOOKS = ["prestart", "createRuntime", "createContainer"]
ALL_HOOKS = CREATE_HOOKS + ["startContainer", "poststart", "poststop"]


class HookLog:
    """A host directory, bind-mounted at /hooklog, where every hook writes its stdin (the
    state) and appends ``<name> <arg0> <arg1> <env>`` to ``order``.

    Hooks run either on the host (/bin/sh is the host's) or in the container (busybox): the
    script looks for /hooklog and falls back to the host path, which is what it sees before
    pivot_root (createContainer).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        path.chmod(0o777)

    def script(self, name: str) -> str:
        return (f'd=/hooklog; [ -d "$d" ] || d={self.path}; cat > "$d/{name}.json"; '
                f'echo "{name} $0 $1 $HOOKENV" >> "$d/order"')

    def add(self, bundle, name: str, script: str | None = None, timeout: int | None = None) -> None:
        bundle.add_hook(name, "/bin/sh", ["sh", "-c", script or self.script(name), "arg0", "arg1"],
                        env=[f"HOOKENV=env-{name}"], timeout=timeout)

    def order(self) -> list[str]:
        path = self.path / "order"
        return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []

    def lines(self) -> list[str]:
        return (self.path / "order").read_text().splitlines()

    def state(self, name: str) -> dict:
        return json.loads((self.path / f"{name}.json").read_text())


@pytest.fixture
def hooklog(test_dir, bundle) -> HookLog:
    log = HookLog(test_dir / "hooklog")
    bundle.add_mount("/hooklog", None, str(log.path), ["bind"])
    return log


def test_hooks_order_args_env_and_state(runtime, bundle, container_id, hooklog):
    for name in ALL_HOOKS:
        hooklog.add(bundle, name)
    bundle.sh("echo process >> /hooklog/order")
    c = create(runtime, bundle, container_id)
    assert hooklog.order()[:3] == CREATE_HOOKS
    runtime.start(container_id).ok()
    assert procs.wait_exit(c.pid).exit_code == 0
    runtime.delete(container_id).ok()

    order = hooklog.order()
    assert set(order) == set(ALL_HOOKS) | {"process"} and len(order) == len(ALL_HOOKS) + 1
    assert order.index("startContainer") < order.index("process")
    assert order[-1] == "poststop"
    for line in hooklog.lines():
        name, *rest = line.split()
        if name != "process":
            assert rest == ["arg0", "arg1", f"env-{name}"], line

    for name in ALL_HOOKS:
        state = hooklog.state(name)
        assert state["id"] == container_id and state["bundle"] == str(bundle.path), (name, state)
        assert re.fullmatch(r"1\.\d+\.\d+(-\S+)?", state["ociVersion"]), state
    # runc says "creating" during create; runtime-tools hooks_stdin requires "created" for
    # prestart (crun and ociruntime follow that).
    for name in CREATE_HOOKS:
        assert hooklog.state(name)["status"] in ("creating", "created"), name
    assert hooklog.state("startContainer")["status"] == "created"
    assert hooklog.state("poststop")["status"] == "stopped"
    # Runtime-namespace hooks see the host pid; container-namespace hooks the container's.
    assert hooklog.state("prestart")["pid"] == c.pid
    assert hooklog.state("createRuntime")["pid"] == c.pid
    # runc gives the in-namespace pid 1; the spec's state pid is "as seen by the host".
    assert hooklog.state("createContainer")["pid"] in (1, c.pid)
    assert hooklog.state("startContainer")["pid"] in (1, c.pid)


def test_container_hooks_without_runtime_hooks_get_the_state(runtime, bundle, container_id, hooklog):
    """With no prestart or createRuntime hook the parent sends the hook state ahead of the
    init's "mounts_ready" (process/parent.py): createContainer must still get it whole."""
    for name in ("createContainer", "startContainer"):
        hooklog.add(bundle, name)
    c = create(runtime, bundle, container_id)
    assert hooklog.order() == ["createContainer"]
    runtime.start(container_id).ok()
    assert procs.wait_exit(c.pid).exit_code == 0
    runtime.delete(container_id).ok()
    assert hooklog.order() == ["createContainer", "startContainer"]
    for name in ("createContainer", "startContainer"):
        state = hooklog.state(name)
        assert state["id"] == container_id and state["bundle"] == str(bundle.path), (name, state)
        assert state["pid"] in (1, c.pid), (name, state)


def test_hooks_get_annotations_larger_than_a_socket_buffer(runtime, bundle, container_id, hooklog):
    """Kubernetes allows 256 KiB of annotations and the hook state carries them all, across
    the runtime's own channel to the init for createContainer (208 KiB by default)."""
    annotations = {f"example.com/key-{i}": "v" * 990 for i in range(300)}  # ~300 KB
    bundle.config["annotations"] = annotations
    for name in ("prestart", "createContainer"):
        hooklog.add(bundle, name)
    c = create(runtime, bundle, container_id)
    for name in ("prestart", "createContainer"):
        assert hooklog.state(name)["annotations"] == annotations, name
    runtime.delete(container_id, force=True).ok()
    assert procs.wait_exit(c.pid) is not None


@pytest.mark.ours_only
def test_poststart_runs_after_the_process_started(runtime, bundle, container_id, hooklog):
    for name in ALL_HOOKS:
        hooklog.add(bundle, name)
    bundle.sh("echo process >> /hooklog/order")
    c = create(runtime, bundle, container_id)
    assert hooklog.order() == CREATE_HOOKS
    runtime.start(container_id).ok()
    assert "poststart" in hooklog.order()  # done by the time start returns
    assert procs.wait_exit(c.pid).exit_code == 0
    runtime.delete(container_id).ok()
    assert [n for n in hooklog.order() if n != "process"] == ALL_HOOKS
    assert hooklog.state("poststart")["status"] == "running"
    assert hooklog.state("poststart")["pid"] == c.pid


@pytest.mark.parametrize("failing", CREATE_HOOKS)
def test_failing_create_hook_fails_create_and_cleans_up(runtime, bundle, container_id, hooklog,
                                                        leak_scope, failing):
    for name in CREATE_HOOKS:
        hooklog.add(bundle, name, "echo hook failed >&2; exit 3" if name == failing else None)
    bundle.sh("echo process >> /hooklog/order")
    runtime.create(container_id, bundle).failed()
    assert failing not in hooklog.order() and "process" not in hooklog.order()
    assert leaks.container_traces(leak_scope, container_id) == []
    runtime.state_result(container_id).failed("container does not exist")


def test_hook_timeout_fails_create(runtime, bundle, container_id, hooklog, leak_scope):
    hooklog.add(bundle, "createRuntime", "exec sleep 30", timeout=1)
    runtime.create(container_id, bundle).failed("timeout")
    assert leaks.container_traces(leak_scope, container_id) == []


def test_failing_poststop_hook_does_not_fail_delete(runtime, bundle, container_id, hooklog, leak_scope):
    hooklog.add(bundle, "poststop", "exit 3")
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()
    assert leaks.container_traces(leak_scope, container_id) == []


@pytest.mark.ours_only
def test_failing_poststart_hook_warns_and_the_container_runs_on(runtime, bundle, container_id, hooklog):
    hooklog.add(bundle, "poststart", "exit 3")
    bundle.sh("echo ran")
    c = create(runtime, bundle, container_id)
    start = runtime.start(container_id).ok()
    assert "poststart" in start.stderr_text()  # the warning names the hook
    assert procs.wait_exit(c.pid).exit_code == 0
    assert c.output() == "ran\n"
    runtime.delete(container_id).ok()


@pytest.mark.ours_only
def test_start_container_hook_runs_as_root_before_the_user_switch(runtime, bundle, container_id, hooklog):
    """With a startContainer hook the init stays root until `start` has run it; without one
    the switch is made before `start` (test_process.py)."""
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    hooklog.add(bundle, "startContainer", hooklog.script("startContainer") + '; id -u > "$d/hook-uid"')
    bundle.sh("id -u")
    c = create(runtime, bundle, container_id)
    status = Path(f"/proc/{c.pid}/status").read_text()
    assert re.search(r"^Uid:\s+0\s", status, re.M), status
    runtime.start(container_id).ok()
    assert procs.wait_exit(c.pid).exit_code == 0
    assert (hooklog.path / "hook-uid").read_text() == "0\n"
    assert c.output() == "1000\n"
    runtime.delete(container_id).ok()


@pytest.mark.ours_only
def test_failing_start_container_hook_fails_start(runtime, bundle, container_id, hooklog):
    hooklog.add(bundle, "startContainer", "exit 3")
    bundle.sh("echo ran")
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).failed("startContainer")
    procs.wait_exit(c.pid)
    assert c.output() == ""  # the process never ran
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()
