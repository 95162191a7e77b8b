"""Kubernetes CRI: containerd's CRI plugin with an ``ociruntime`` runtime handler (BinaryName =
the runtime under test), driven by crictl: runp, create, start, exec, logs, stop, rm, stopp,
rmp. The pod uses the host network, so no CNI plugin is involved; the pause container is our
busybox image. Both the sandbox and the container must be run by the runtime under test.
"""

from __future__ import annotations

import itertools
import json
import secrets
import shlex
import subprocess
import time
from pathlib import Path

from engines.containerd import describe
from engines.cri import Crictl, container_config, pod_config
from engines.session import CRI_HANDLER, K8S_NAMESPACE, EngineSession, cri_cgroup_parent
from helpers import procs

_ids = itertools.count()
LOOP = "echo hello-from-cri; echo to-stderr >&2; trap 'echo got-term; exit 0' TERM; " \
       "while true; do sleep 1; done"


def runtime_list(runtime: str, root: Path) -> set[str]:
    """Container ids the runtime under test itself knows in its --root (CRI's namespace dir)."""
    done = subprocess.run([runtime, "--root", str(root / K8S_NAMESPACE), "list", "--format", "json"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, describe(done)
    return {c["id"] for c in json.loads(done.stdout or "null") or []}


def new_pod(crictl: Crictl, engine_session: EngineSession) -> tuple[str, str]:
    n = next(_ids)
    log_dir = crictl.workdir / f"pod{n}-logs"
    log_dir.mkdir()
    config = pod_config(f"pod{n}", secrets.token_hex(8), engine_session.tag, log_dir,
                        f"/{cri_cgroup_parent(engine_session)}")
    return crictl.write_json(f"pod{n}.json", config), str(log_dir)


def test_pod_lifecycle(crictl: Crictl, engine_session: EngineSession) -> None:
    pod_json, log_dir = new_pod(crictl, engine_session)
    pod_id = crictl("runp", "--runtime", CRI_HANDLER, pod_json).stdout.strip()
    assert len(pod_id) == 64, pod_id
    pod = crictl.inspect("inspectp", pod_id)
    assert pod["status"]["state"] == "SANDBOX_READY", pod["status"]
    assert pod["info"]["runtimeHandler"] == CRI_HANDLER

    ctr_json = crictl.write_json("box.json", container_config("box", engine_session.image,
                                                              ["sh", "-c", LOOP]))
    cid = crictl("create", "--no-pull", pod_id, ctr_json, pod_json).stdout.strip()
    assert len(cid) == 64, cid
    assert crictl.inspect("inspect", cid)["status"]["state"] == "CONTAINER_CREATED"
    crictl("start", cid)
    status = crictl.inspect("inspect", cid)["status"]
    assert status["state"] == "CONTAINER_RUNNING", status

    # Both the pause container and ours were made by the runtime under test, in its --root.
    assert {pod_id, cid} <= runtime_list(engine_session.runtime, crictl.daemon.runtime_root)

    # exec -s: output, and the exit code of the command (crictl 1.37 reports a non-zero one
    # as an error naming it, and exits 1)
    done = crictl("exec", "-s", cid, "sh", "-c", "echo in-exec; id -u")
    assert done.stdout.split() == ["in-exec", "0"], describe(done)
    done = crictl("exec", "-s", cid, "sh", "-c", "exit 3", check=False)
    assert done.returncode == 1 and "exited with 3" in done.stderr, describe(done)
    done = crictl("exec", "-s", cid, "ls", "/proc/self/fd")
    assert done.stdout.split() == ["0", "1", "2", "3"], describe(done)
    # the host network: the container sees the host's interfaces
    host_ifaces = sorted(p.name for p in Path("/sys/class/net").iterdir())
    done = crictl("exec", "-s", cid, "ls", "/sys/class/net")
    assert sorted(done.stdout.split()) == host_ifaces, describe(done)

    # logs: what the container wrote, split into its streams by crictl
    done = crictl("logs", cid)
    assert "hello-from-cri" in done.stdout, describe(done)
    assert "to-stderr" in done.stderr, describe(done)
    assert (Path(log_dir) / "box.log").is_file()

    init_pid = int(crictl.inspect("inspect", cid)["info"]["pid"])
    assert procs.alive(init_pid)
    crictl("stop", "--timeout", "20", cid)
    status = crictl.inspect("inspect", cid)["status"]
    assert status["state"] == "CONTAINER_EXITED", status
    assert status["exitCode"] == 0, status  # the TERM trap, not a SIGKILL after the timeout
    assert not procs.alive(init_pid)
    assert "got-term" in crictl("logs", cid).stdout
    crictl("rm", cid)
    assert crictl("ps", "--all", "--quiet").stdout.split() == []
    assert cid not in runtime_list(engine_session.runtime, crictl.daemon.runtime_root)

    crictl("stopp", pod_id)
    assert crictl.inspect("inspectp", pod_id)["status"]["state"] == "SANDBOX_NOTREADY"
    crictl("rmp", pod_id)
    assert crictl("pods", "--quiet").stdout.split() == []
    assert runtime_list(engine_session.runtime, crictl.daemon.runtime_root) == set()


def test_stop_kills_leftovers_in_shared_pid_namespace(crictl: Crictl, engine_session: EngineSession) -> None:
    """The container shares the pod's PID namespace (CRI's default, POD), so its init exiting
    does not end its other processes: the shim then runs `kill --all <id> 9` on the stopped
    container, and the runtime must still signal what is left in its cgroup (as runc does)."""
    pod_json, _ = new_pod(crictl, engine_session)
    pod_id = crictl("runp", "--runtime", CRI_HANDLER, pod_json).stdout.strip()
    script = "sleep 1000 & echo $! > /tmp/bg.pid; trap 'exit 0' TERM; while true; do sleep 1; done"
    ctr_json = crictl.write_json("bg.json", container_config("bg", engine_session.image, ["sh", "-c", script]))
    cid = crictl("create", "--no-pull", pod_id, ctr_json, pod_json).stdout.strip()
    crictl("start", cid)
    init_pid = int(crictl.inspect("inspect", cid)["info"]["pid"])
    background = _host_pids_of(init_pid, "sleep 1000")
    assert len(background) == 1, background

    crictl("stop", "--timeout", "20", cid)
    status = crictl.inspect("inspect", cid)["status"]
    assert status["state"] == "CONTAINER_EXITED" and status["exitCode"] == 0, status
    assert not procs.alive(init_pid)
    # The shim's kill --all ran before it reported the exit, so it is gone already (a zombie
    # at most, until the pod's init reaps it), before `rm` would clean up the cgroup.
    assert not procs.alive(background[0]), f"{background[0]} survived the stop: kill --all missed it"
    refused = [line for line in crictl.daemon.log_path.read_text().splitlines()
               if "failed to kill init's children" in line and cid in line]
    assert not refused, refused
    crictl("rm", cid)
    crictl("stopp", pod_id)
    crictl("rmp", pod_id)


def _host_pids_of(init_pid: int, command: str) -> list[int]:
    """Host pids of processes in the same cgroup as ``init_pid`` whose argv is ``command``."""
    cgroup_procs = Path("/sys/fs/cgroup/pids") / _cgroup_of(init_pid, "pids").lstrip("/") / "cgroup.procs"
    return [pid for pid in map(int, cgroup_procs.read_text().split())
            if " ".join(procs.cmdline(pid)) == command]


def _cgroup_of(pid: int, controller: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise AssertionError(f"{pid} has no {controller} cgroup")


def _wait_state(crictl: Crictl, cid: str, state: str) -> dict:
    deadline = time.monotonic() + 30  # safety net only
    while (status := crictl.inspect("inspect", cid)["status"])["state"] != state:
        assert time.monotonic() < deadline, f"{cid} never reached {state}: {status}"
        time.sleep(0.05)
    return status


def test_update_streaming_exec_and_exit_codes(crictl: Crictl, engine_session: EngineSession) -> None:
    pod_json, _ = new_pod(crictl, engine_session)
    pod_id = crictl("runp", "--runtime", CRI_HANDLER, pod_json).stdout.strip()
    image = engine_session.image

    # update: the shim calls `<runtime> update --resources - ID` with the resources on stdin
    cid = crictl("create", "--no-pull", pod_id,
                 crictl.write_json("upd.json", container_config("upd", image, ["sleep", "1000"])),
                 pod_json).stdout.strip()
    crictl("start", cid)
    crictl("update", "--memory", str(64 << 20), "--cpu-quota", "50000", "--cpu-period", "100000", cid)
    parent = cri_cgroup_parent(engine_session)
    memory = Path(f"/sys/fs/cgroup/memory/{parent}/{cid}/memory.limit_in_bytes")
    assert int(memory.read_text()) == 64 << 20
    assert int(Path(f"/sys/fs/cgroup/cpu/{parent}/{cid}/cpu.cfs_quota_us").read_text()) == 50000

    # streaming exec (through containerd's stream server), with and without a terminal;
    # crictl 1.37 exits 1 for a non-zero exit and names the code
    done = crictl("exec", cid, "sh", "-c", "echo streamed; exit 4", check=False)
    assert done.stdout == "streamed\n", describe(done)
    assert done.returncode == 1 and "exit code 4" in done.stderr, describe(done)
    command = shlex.join([*crictl.argv("exec", "-it", cid, "sh", "-c", "tty; exit 6")])
    shown = subprocess.run(["script", "-qec", command, "/dev/null"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1 and "exit code 6" in shown.stdout, shown
    assert "/dev/pts/" in shown.stdout, shown.stdout
    crictl("stop", "--timeout", "0", cid)  # sleep as PID 1 ignores TERM: killed
    assert _wait_state(crictl, cid, "CONTAINER_EXITED")["exitCode"] == 137
    crictl("rm", cid)

    # a container's own exit code and its output
    cid = crictl("create", "--no-pull", pod_id,
                 crictl.write_json("bye.json", container_config("bye", image, ["sh", "-c", "echo bye; exit 3"])),
                 pod_json).stdout.strip()
    crictl("start", cid)
    assert _wait_state(crictl, cid, "CONTAINER_EXITED")["exitCode"] == 3
    assert crictl("logs", cid).stdout == "bye\n"
    crictl("rm", cid)

    # a command that does not exist: `start` fails with the runtime's message (from log.json)
    cid = crictl("create", "--no-pull", pod_id,
                 crictl.write_json("bad.json", container_config("bad", image, ["/nonexistent"])),
                 pod_json).stdout.strip()
    done = crictl("start", cid, check=False)
    assert done.returncode != 0
    assert "OCI runtime create failed" in done.stderr and "/nonexistent" in done.stderr, describe(done)
    crictl("rm", cid)

    crictl("stopp", pod_id)
    crictl("rmp", pod_id)
    assert runtime_list(engine_session.runtime, crictl.daemon.runtime_root) == set()


def test_no_pivot_root_handler(crictl: Crictl, engine_session: EngineSession) -> None:
    """Runtime options NoPivotRoot=true: the shim creates both containers with `--no-pivot`."""
    pod_json, _ = new_pod(crictl, engine_session)
    handler = f"{CRI_HANDLER}-nopivot"
    pod_id = crictl("runp", "--runtime", handler, pod_json).stdout.strip()
    assert crictl.inspect("inspectp", pod_id)["info"]["runtimeHandler"] == handler
    cid = crictl("create", "--no-pull", pod_id,
                 crictl.write_json("np.json", container_config("np", engine_session.image, ["sleep", "1000"])),
                 pod_json).stdout.strip()
    crictl("start", cid)
    assert {pod_id, cid} <= runtime_list(engine_session.runtime, crictl.daemon.runtime_root)
    # Without pivot_root the root is still the image's rootfs (its /etc/passwd has root only).
    done = crictl("exec", "-s", cid, "cat", "/etc/passwd")
    assert done.stdout.strip() == "root:x:0:0:root:/root:/bin/sh", describe(done)
    bundle = crictl.daemon.state / "io.containerd.runtime.v2.task" / K8S_NAMESPACE / cid / "options.json"
    assert json.loads(bundle.read_text()).get("no_pivot_root") is True, bundle.read_text()
    crictl("stop", "--timeout", "0", cid)
    crictl("rm", cid)
    crictl("stopp", pod_id)
    crictl("rmp", pod_id)
