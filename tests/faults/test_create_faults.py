"""Crash consistency: the runtime (or one of its children) dies at each stage of `create`,
then `state` and `list` must still answer cleanly and `delete --force` must remove every
trace (state dir, cgroup dirs, processes, mounts; the autouse leak checker verifies).

Faults come from ociruntime's test hook (ociruntime/faults.py, env OCIRUNTIME_FAULT), so
these tests are ours_only.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
from helpers import leaks, procs
from helpers.asserts import assert_one_line_error
from helpers.containers import SLEEPER

pytestmark = pytest.mark.ours_only

# Stages where the runtime process itself dies: create ends by SIGKILL, leaving what it made.
RUNTIME_STAGES = {
    # stage -> status `state` reports afterwards (None: `state` fails with a clean error)
    "after_state_dir": None,
    "after_cgroup": "stopped",
    "after_state_written": "stopped",
    "before_pid_file": "created",
    "after_pid_file": "created",
}
# Stages in the container's processes: the runtime sees its child vanish and cleans up.
CHILD_STAGES = ("stage1_after_namespaces", "init_after_mounts", "before_ready")


def _assert_no_traceback(*results) -> None:
    for result in results:
        assert "Traceback" not in result.stderr_text(), result.describe()


def _listed(runtime) -> dict[str, dict]:
    result = runtime.call("list", "--format", "json").ok()
    _assert_no_traceback(result)
    return {entry["id"]: entry for entry in json.loads(result.stdout_text()) or []}


def _assert_gone(runtime, leak_scope, cid: str, init_pid: int | None) -> None:
    assert leaks.container_traces(leak_scope, cid) == []
    if init_pid:
        procs.wait_exit(init_pid)  # killed by delete --force (exact wait, reaps it)
    assert cid not in _listed(runtime)
    assert_one_line_error(runtime.state_result(cid), "container does not exist")


@pytest.mark.parametrize("stage", sorted(RUNTIME_STAGES))
def test_runtime_killed_at_stage(stage, runtime, bundle, container_id, leak_scope):
    bundle.sh(SLEEPER)
    pid_file = runtime.io_dir / "init.pid"
    result = runtime.create(container_id, bundle, "--pid-file", pid_file,
                            extra_env={"OCIRUNTIME_FAULT": stage})
    assert result.returncode == -signal.SIGKILL, result.describe()
    assert (pid_file.exists()) == (stage == "after_pid_file")
    assert leaks.container_traces(leak_scope, container_id), "the fault fired before anything was made"

    state = runtime.state_result(container_id)
    _assert_no_traceback(state)
    expected = RUNTIME_STAGES[stage]
    init_pid = None
    if expected is None:
        assert_one_line_error(state, "state.json is missing")
        assert container_id not in _listed(runtime)  # half-made: not listed, not an error
    else:
        body = json.loads(state.ok().stdout_text())
        assert body["status"] == expected
        init_pid = body["pid"] or None
        assert (init_pid is not None) == (expected == "created")
        assert _listed(runtime)[container_id]["status"] == expected

    runtime.delete(container_id, force=True).ok()
    _assert_gone(runtime, leak_scope, container_id, init_pid)


@pytest.mark.parametrize("stage", CHILD_STAGES)
def test_container_process_killed_at_stage(stage, runtime, bundle, container_id, leak_scope):
    bundle.sh(SLEEPER)
    result = runtime.create(container_id, bundle, extra_env={"OCIRUNTIME_FAULT": stage})
    assert_one_line_error(result, "container process exited before sending")
    # The runtime saw its child die and undid everything itself.
    assert leaks.container_traces(leak_scope, container_id) == []
    assert_one_line_error(runtime.state_result(container_id), "container does not exist")
    assert container_id not in _listed(runtime)
    runtime.delete(container_id, force=True).ok()
    _assert_gone(runtime, leak_scope, container_id, None)


@pytest.mark.parametrize("stage", ("stage1_after_namespaces", "init_after_mounts"))
def test_container_process_killed_without_mount_namespace(stage, runtime, bundle, container_id, leak_scope):
    """No mount namespace: the rootfs is mounted on the host, under the state dir."""
    bundle.drop_namespace("mount")
    bundle.linux["maskedPaths"] = []  # both need a private mount namespace
    bundle.linux["readonlyPaths"] = []
    result = runtime.create(container_id, bundle, extra_env={"OCIRUNTIME_FAULT": stage})
    assert_one_line_error(result, "container process exited before sending")
    assert leaks.container_traces(leak_scope, container_id) == []


def test_force_delete_while_create_hangs_before_ready(runtime, bundle, container_id, leak_scope):
    """create is stuck (its init hangs before "ready"): a concurrent `delete --force` kills the
    cgroup's tasks, the runtime sees its init die and fails; nothing is left either way."""
    bundle.sh(SLEEPER)
    bundle.save()
    err_path = runtime.io_dir / "create-paused.err"
    with open(err_path, "wb") as err:
        create = subprocess.Popen(
            [runtime.path, "--root", str(runtime.root), "create", "--bundle", str(bundle.path), container_id],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env=runtime.env({"OCIRUNTIME_FAULT": "before_ready:pause"}))
    try:
        # The state file exists from before the fork; the hang is after the mounts.
        procs.wait_until(lambda: (runtime.root / container_id / "state.json").exists() and
                    leaks.container_traces(leak_scope, container_id) and create.poll() is None)
        state = runtime.state_result(container_id)
        _assert_no_traceback(state)
        assert json.loads(state.ok().stdout_text())["status"] == "stopped"  # no init pid recorded yet
        assert container_id in _listed(runtime)
        runtime.delete(container_id, force=True).ok()
        assert create.wait(timeout=30) == 1
    finally:
        if create.poll() is None:
            create.kill()
            create.wait()
    assert "container process exited before sending" in err_path.read_text()
    _assert_gone(runtime, leak_scope, container_id, None)
