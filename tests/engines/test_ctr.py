"""containerd 1.6 drives the runtime under test: `ctr run --runc-binary <runtime>` and the
task verbs (containerd -> containerd-shim-runc-v2 -> runtime), as a containerd user would.

Every test checks what ctr prints and its exit code; the ``ctr`` fixture then checks that
nothing is left (runtime state, mounts, cgroups, processes, shims).
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

from engines.containerd import describe
from engines.ctr import Ctr, expect
from helpers import procs

# PID 1 ignores signals it has no handler for: trap TERM to get a known exit code.
TRAPPING_LOOP = 'trap "echo got-term; exit 7" TERM; echo ready; while true; do sleep 1; done'
_ids = itertools.count()


def new_id(name: str) -> str:
    return f"{name}-{next(_ids)}"


def runtime_list(runtime: str, root: Path) -> dict[str, int]:
    """id -> pid of the containers the runtime itself lists in ``root``."""
    done = subprocess.run([runtime, "--root", str(root), "list", "--format", "json"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, describe(done)
    return {c["id"]: c["pid"] for c in json.loads(done.stdout or "null") or []}


def freezer_state(namespace: str, cid: str) -> str:
    return Path(f"/sys/fs/cgroup/freezer/{namespace}/{cid}/freezer.state").read_text().strip()


def frozen_tasks(namespace: str, cid: str) -> dict[int, str]:
    """pid -> /proc state of every task in the container's freezer cgroup (frozen: "D")."""
    tasks = Path(f"/sys/fs/cgroup/freezer/{namespace}/{cid}/tasks").read_text().split()
    return {int(pid): procs.proc_state(int(pid)) for pid in tasks}


def terminal_lines(output: str) -> list[str]:
    """Lines as a terminal showed them: ctr writes a NUL first, which the pty echoes as ^@."""
    return [line.replace("^@", "").replace("\0", "").strip() for line in output.splitlines()]


def test_run_rm_output_and_exit_code(ctr: Ctr) -> None:
    done = expect(ctr.run(new_id("rm"), "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3",
                          flags=("--rm",)), 3)
    assert done.stdout == "to-stdout\n"
    assert "to-stderr\n" in done.stderr


def test_container_sees_only_stdio_fds(ctr: Ctr) -> None:
    # 0-2 are the fifos from the shim; 3 is ls's own directory fd. The shim's ttrpc socket
    # (fd 3 in the runtime) or anything else the runtime holds must not get in.
    done = expect(ctr.run(new_id("fds"), "ls", "/proc/self/fd", flags=("--rm",)), 0)
    assert done.stdout.split() == ["0", "1", "2", "3"]


def test_failed_create_reports_runtime_error(ctr: Ctr) -> None:
    cid = new_id("nocmd")
    done = ctr.run(cid, "/nonexistent", flags=("--rm",))
    assert done.returncode != 0
    # The shim read the message from the runtime's log.json (last error line, RFC 3339 time).
    assert "OCI runtime create failed" in done.stderr, done.stderr
    assert "/nonexistent" in done.stderr, done.stderr
    assert "unable to retrieve OCI runtime error" not in done.stderr, done.stderr
    ctr("container", "delete", cid, check=False)


def test_run_tty(ctr: Ctr) -> None:
    cid = new_id("tty")
    done = ctr.in_terminal("run", *ctr.runtime_flags(), "-t", "--rm", ctr.image, cid,
                           "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty; exit 4")
    assert done.returncode == 4, done
    lines = terminal_lines(done.stdout)
    assert "/dev/pts/0" in lines, done.stdout
    assert "both-tty" in lines, done.stdout


def test_detached_exec_ps_pause_resume_metrics_kill(ctr: Ctr) -> None:
    cid = new_id("detached")
    expect(ctr.run(cid, "sh", "-c", TRAPPING_LOOP, flags=("-d",)), 0)
    ctr.wait_status(cid, "RUNNING")
    init_pid = ctr.task_pid(cid)
    assert procs.alive(init_pid)
    # the shim called the runtime under test with our --runc-root (ctr drops both silently
    # in some combinations, e.g. with --no-pivot): it knows the container, with the same pid
    listed = runtime_list(ctr.daemon.runtime, ctr.daemon.runtime_root / ctr.namespace)
    assert listed.get(cid) == init_pid, listed

    # exec without a terminal: output and its own exit code
    done = expect(ctr("task", "exec", "--exec-id", "e1", "--fifo-dir", str(ctr.daemon.fifo_dir),
                      cid, "sh", "-c", "echo in-exec; echo exec-err >&2; exit 3", check=False), 3)
    assert done.stdout == "in-exec\n"
    assert "exec-err" in done.stderr
    # the exec'd process sees the same fds as the init: only stdio
    done = expect(ctr("task", "exec", "--exec-id", "e2", "--fifo-dir", str(ctr.daemon.fifo_dir),
                      cid, "ls", "/proc/self/fd", check=False), 0)
    assert done.stdout.split() == ["0", "1", "2", "3"]

    # the exec's process.json: user and cwd reach the process
    done = expect(ctr("task", "exec", "--exec-id", "e5", "--fifo-dir", str(ctr.daemon.fifo_dir),
                      "--user", "1000:1000", "--cwd", "/tmp",
                      cid, "sh", "-c", 'echo "$(id -u):$(id -g) $(pwd)"', check=False), 0)
    assert done.stdout == "1000:1000 /tmp\n", done.stdout

    # exec with a terminal
    done = ctr.in_terminal("task", "exec", "-t", "--exec-id", "e3", "--fifo-dir", str(ctr.daemon.fifo_dir),
                           cid, "sh", "-c", "tty; exit 5")
    assert done.returncode == 5, done
    assert "/dev/pts/" in done.stdout, done.stdout

    # ps: the init (and its sleep child) by host pid
    done = expect(ctr("task", "ps", cid), 0)
    pids = [int(line.split()[0]) for line in done.stdout.splitlines()[1:] if line.strip()]
    assert init_pid in pids, done.stdout

    # pause: the freezer cgroup says FROZEN and the init is really stopped there
    expect(ctr("task", "pause", cid), 0)
    ctr.wait_status(cid, "PAUSED")
    assert freezer_state(ctr.namespace, cid) == "FROZEN"
    frozen = frozen_tasks(ctr.namespace, cid)
    assert init_pid in frozen and set(frozen.values()) == {"D"}, frozen
    done = ctr("task", "exec", "--exec-id", "e4", "--fifo-dir", str(ctr.daemon.fifo_dir), cid, "true",
               check=False)
    assert done.returncode != 0, "exec into a paused container must fail"
    expect(ctr("task", "resume", cid), 0)
    ctr.wait_status(cid, "RUNNING")
    assert freezer_state(ctr.namespace, cid) == "THAWED"

    # metrics: read by the shim from the container's cgroups
    done = expect(ctr("task", "metrics", "--format", "json", cid), 0)
    metrics = json.loads(done.stdout)
    assert metrics["pids"]["current"] >= 1, metrics
    assert "memory" in metrics and "cpu" in metrics, metrics
    done = expect(ctr("task", "metrics", cid), 0)
    assert "pids.current" in done.stdout

    # kill (SIGTERM by default): the trap exits 7, which `task delete` returns
    expect(ctr("task", "kill", cid), 0)
    ctr.wait_status(cid, "STOPPED")
    assert not procs.alive(init_pid)
    assert ctr.remove(cid) == 7


def test_kill_all_sigkill(ctr: Ctr) -> None:
    cid = new_id("killall")
    expect(ctr.run(cid, "sh", "-c", "sleep 1000 & sleep 1000 & wait", flags=("-d",)), 0)
    ctr.wait_status(cid, "RUNNING")
    done = expect(ctr("task", "ps", cid), 0)
    pids = [int(line.split()[0]) for line in done.stdout.splitlines()[1:] if line.strip()]
    assert len(pids) == 3, done.stdout
    expect(ctr("task", "kill", "--all", "--signal", "SIGKILL", cid), 0)
    ctr.wait_status(cid, "STOPPED")
    assert not any(procs.alive(pid) for pid in pids)
    assert ctr.remove(cid) == 137


def test_delete_running_task_needs_force(ctr: Ctr) -> None:
    cid = new_id("force")
    expect(ctr.run(cid, "sleep", "1000", flags=("-d",)), 0)
    ctr.wait_status(cid, "RUNNING")
    pid = ctr.task_pid(cid)
    done = expect(ctr("task", "delete", cid, check=False), 1)
    assert "running" in done.stderr, done.stderr
    assert procs.alive(pid)
    done = expect(ctr("task", "delete", "--force", cid), 0)
    assert "exit code 137" in done.stderr, done.stderr  # the SIGKILL status
    assert ctr.task_status(cid) == ""
    assert not procs.alive(pid)
    expect(ctr("container", "delete", cid), 0)


def test_exit_of_init_sharing_a_pid_namespace_kills_the_rest(ctr: Ctr) -> None:
    """A container joining another one's PID namespace (as CRI containers join their pod's) is
    not emptied by the kernel when its init exits: the shim runs `kill --all ID 9` on the then
    stopped container, and the runtime must still signal what is left in its cgroup."""
    holder, joiner = new_id("pidns-holder"), new_id("pidns-joiner")
    expect(ctr.run(holder, "sleep", "1000", flags=("-d",)), 0)
    ctr.wait_status(holder, "RUNNING")
    holder_pid = ctr.task_pid(holder)
    script = 'sleep 1001 & trap "exit 0" TERM; echo ready; while true; do sleep 1; done'
    expect(ctr.run(joiner, "sh", "-c", script, flags=("-d", "--with-ns", f"pid:/proc/{holder_pid}/ns/pid")), 0)
    ctr.wait_status(joiner, "RUNNING")
    cgroup_procs = Path(f"/sys/fs/cgroup/pids/{ctr.namespace}/{joiner}/cgroup.procs")
    background = [pid for pid in map(int, cgroup_procs.read_text().split())
                  if procs.cmdline(pid) == ["sleep", "1001"]]
    assert len(background) == 1, cgroup_procs.read_text()

    expect(ctr("task", "kill", joiner), 0)
    ctr.wait_status(joiner, "STOPPED")
    # Before `task delete`: only the shim's kill --all can have ended it.
    procs.wait_exit(background[0])
    assert ctr.remove(joiner) == 0
    expect(ctr("task", "kill", "-s", "SIGKILL", holder), 0)
    ctr.wait_status(holder, "STOPPED")
    assert ctr.remove(holder) == 137
