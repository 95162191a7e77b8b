"""update / pause / resume / ps / events on real containers, read back from the cgroup files."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from helpers import procs
from helpers.containers import SLEEPER, create

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Counts as fast as it can into a file of the rootfs: a frozen container stops counting.
COUNTER = 'echo ready; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done'


def cgroup_dir(pid: int, controller: str) -> Path:
    """The v1 cgroup directory of `pid` for `controller`, from /proc/<pid>/cgroup."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    raise AssertionError(f"pid {pid} has no {controller} cgroup")


def read(pid: int, controller: str, name: str) -> str:
    return (cgroup_dir(pid, controller) / name).read_text().strip()


def running(runtime, bundle, cid: str, script: str = SLEEPER, resources: dict | None = None):
    bundle.sh(script)
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    c = create(runtime, bundle, cid)
    runtime.start(cid).ok()
    c.wait_output("ready")
    return c


def finish(runtime, c) -> None:
    runtime.kill(c.cid, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(c.cid).ok()


# --- update ----------------------------------------------------------------------------------

def test_update_flags_change_the_cgroup_files(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "37",
                 "--cpu-share", "345", container_id).ok()
    assert read(c.pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert read(c.pid, "memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert read(c.pid, "pids", "pids.max") == "37"
    assert read(c.pid, "cpu", "cpu.shares") == "345"
    assert runtime.status(container_id) == "running"
    finish(runtime, c)


def test_update_cpu_quota_and_period(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "--cpu-period", "200000", "--cpu-quota", "50000", container_id).ok()
    assert read(c.pid, "cpu", "cpu.cfs_period_us") == "200000"
    assert read(c.pid, "cpu", "cpu.cfs_quota_us") == "50000"
    finish(runtime, c)


def test_update_resources_from_file_and_stdin(runtime, bundle, container_id, test_dir):
    c = running(runtime, bundle, container_id)
    doc = test_dir / "resources.json"
    doc.write_text(json.dumps({"pids": {"limit": 55}, "memory": {"limit": 50 << 20}}))
    runtime.call("update", "-r", doc, container_id).ok()
    assert read(c.pid, "pids", "pids.max") == "55"
    assert read(c.pid, "memory", "memory.limit_in_bytes") == str(50 << 20)
    runtime.call("update", "--resources", "-", container_id,
                 stdin=json.dumps({"pids": {"limit": 66}})).ok()
    assert read(c.pid, "pids", "pids.max") == "66"
    assert read(c.pid, "memory", "memory.limit_in_bytes") == str(50 << 20)  # kept
    finish(runtime, c)


def test_update_keeps_earlier_limits_and_a_later_update_builds_on_them(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id, resources={"memory": {"limit": 40 << 20}})
    assert read(c.pid, "memory", "memory.limit_in_bytes") == str(40 << 20)
    runtime.call("update", "--pids-limit", "20", container_id).ok()
    runtime.call("update", "--cpu-share", "700", container_id).ok()
    assert read(c.pid, "memory", "memory.limit_in_bytes") == str(40 << 20)
    assert read(c.pid, "pids", "pids.max") == "20"
    assert read(c.pid, "cpu", "cpu.shares") == "700"
    finish(runtime, c)


def test_update_a_paused_container(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("pause", container_id).ok()
    runtime.call("update", "--pids-limit", "21", container_id).ok()
    assert read(c.pid, "pids", "pids.max") == "21"
    runtime.call("resume", container_id).ok()
    finish(runtime, c)


def test_update_a_stopped_container_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.call("update", "--pids-limit", "10", container_id).failed("container not running")
    runtime.delete(container_id).ok()


def test_update_unknown_container(runtime, container_id):
    runtime.call("update", "--pids-limit", "10", container_id).failed("container does not exist")


def test_update_invalid_flag_value(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "--memory", "lots", container_id).failed("invalid value for")
    runtime.call("update", "--cpu-share", "-3", container_id).failed("invalid value for")
    finish(runtime, c)


def test_update_missing_resources_file(runtime, bundle, container_id, test_dir):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "-r", test_dir / "nope.json", container_id).failed(
        "no such file or directory")
    finish(runtime, c)


@pytest.mark.ours_only  # runc reports Go's decoder error; ours names the file and JSON path
def test_update_invalid_resources_json_names_the_field(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "-r", "-", container_id,
                 stdin=json.dumps({"pids": {"limit": "many"}})).failed("pids.limit")
    finish(runtime, c)


@pytest.mark.ours_only  # runc keeps its copy in state.json; ours is the saved config.json
def test_update_is_recorded_in_the_saved_config(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id, resources={"memory": {"limit": 40 << 20}})
    runtime.call("update", "--pids-limit", "23", container_id).ok()
    saved = json.loads((runtime.root / container_id / "config.json").read_text())
    assert saved["linux"]["resources"]["pids"] == {"limit": 23}
    assert saved["linux"]["resources"]["memory"]["limit"] == 40 << 20
    finish(runtime, c)


# --- pause / resume --------------------------------------------------------------------------

def count(bundle) -> int:
    text = (bundle.rootfs / "tmp" / "count").read_text().strip()
    return int(text or 0)


def wait_for_count_above(bundle, value: int) -> int:
    deadline = time.monotonic() + procs.WAIT_TIMEOUT
    while time.monotonic() < deadline:
        try:
            now = count(bundle)
        except (FileNotFoundError, ValueError):
            now = value
        if now > value:
            return now
        time.sleep(0.01)
    raise AssertionError(f"counter never went above {value}")


def test_paused_container_does_not_run_and_resumes(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id, script=COUNTER)
    wait_for_count_above(bundle, 0)
    runtime.call("pause", container_id).ok()
    assert runtime.status(container_id) == "paused"
    assert read(c.pid, "freezer", "freezer.state") == "FROZEN"
    frozen_at = count(bundle)
    time.sleep(0.3)   # a running counter advances thousands of times in this window
    assert count(bundle) == frozen_at
    assert runtime.list_json()[0]["status"] == "paused" or any(
        e["id"] == container_id and e["status"] == "paused" for e in runtime.list_json())
    runtime.call("resume", container_id).ok()
    assert runtime.status(container_id) == "running"
    assert read(c.pid, "freezer", "freezer.state") == "THAWED"
    wait_for_count_above(bundle, frozen_at)
    finish(runtime, c)


def test_kill_and_delete_a_paused_container(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("pause", container_id).ok()
    runtime.delete(container_id, force=True).ok()
    procs.wait_exit(c.pid)
    assert not runtime.exists(container_id)


def test_sigkill_to_a_paused_container_thaws_it_so_the_init_dies(runtime, bundle, container_id):
    # A v1-frozen task cannot die; runc thaws after SIGKILL (runc#3217), and podman's
    # kill / rm -f of a paused container waits for exactly that.
    c = running(runtime, bundle, container_id)
    runtime.call("pause", container_id).ok()
    runtime.call("kill", container_id, "9").ok()
    procs.wait_exit(c.pid)
    assert runtime.status(container_id) == "stopped"
    runtime.delete(container_id).ok()


def test_kill_all_of_a_stopped_container_succeeds(runtime, bundle, container_id):
    # containerd's shim sends `kill --all ID 9` after the init exited (CRI pods share a PID
    # namespace, so the init's exit does not end the rest); runc exits 0 there.
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.call("kill", "--all", container_id, "9").ok()
    runtime.call("kill", container_id, "9").failed("container not running")
    runtime.delete(container_id).ok()


def test_resume_a_running_container_fails(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("resume", container_id).failed("container not paused")
    finish(runtime, c)


def test_pause_a_stopped_container_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.call("pause", container_id).failed("container not running")
    runtime.call("resume", container_id).failed("container not paused")
    runtime.delete(container_id).ok()


def test_start_of_a_paused_container_names_the_state(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    c.wait_output("ready")
    runtime.call("pause", container_id).ok()
    runtime.start(container_id).failed("cannot start a container in the paused state")
    runtime.call("resume", container_id).ok()
    runtime.kill(container_id, "KILL").ok()
    procs.wait_exit(c.pid)
    runtime.delete(container_id).ok()


def test_pause_resume_unknown_container(runtime, container_id):
    runtime.call("pause", container_id).failed("container does not exist")
    runtime.call("resume", container_id).failed("container does not exist")


# --- ps --------------------------------------------------------------------------------------

def test_ps_json_is_a_bare_array_of_the_pids(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    result = runtime.call("ps", "--format", "json", container_id).ok()
    pids = json.loads(result.stdout_text())
    assert isinstance(pids, list) and all(isinstance(p, int) for p in pids)
    assert c.pid in pids
    assert set(pids) == {int(p) for p in read(c.pid, "pids", "cgroup.procs").split()}
    finish(runtime, c)


def test_ps_table_filters_ps_output_to_the_container(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    result = runtime.call("ps", container_id, "-o", "pid,comm").ok()
    lines = result.stdout_text().splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    listed = {int(line.split()[0]) for line in lines[1:]}
    assert c.pid in listed
    assert listed <= {int(p) for p in read(c.pid, "pids", "cgroup.procs").split()}
    default = runtime.call("ps", container_id).ok().stdout_text().splitlines()
    assert "PID" in default[0].split() and len(default) == len(lines)
    finish(runtime, c)


def test_ps_bad_format(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("ps", "--format", "yaml", container_id).failed("invalid format option")
    finish(runtime, c)


def test_ps_unknown_container(runtime, container_id):
    runtime.call("ps", container_id).failed("container does not exist")


# --- events ----------------------------------------------------------------------------------

def test_events_stats_matches_the_cgroup_files(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id,
                resources={"memory": {"limit": 48 << 20}, "pids": {"limit": 30}})
    out = runtime.call("events", "--stats", container_id).ok().stdout_text()
    assert out.endswith("\n") and out.count("\n") == 1
    event = json.loads(out)
    assert event["type"] == "stats" and event["id"] == container_id
    data = event["data"]
    assert data["memory"]["usage"]["limit"] == 48 << 20
    assert data["pids"]["limit"] == 30
    assert data["pids"]["current"] == int(read(c.pid, "pids", "pids.current"))
    assert data["memory"]["usage"]["max"] == int(read(c.pid, "memory", "memory.max_usage_in_bytes"))
    usage = data["cpu"]["usage"]
    assert 0 < usage["total"] <= int(read(c.pid, "cpuacct", "cpuacct.usage"))
    finish(runtime, c)


def test_events_stream_prints_stats_until_stopped(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    proc = _events_stream(runtime, container_id, "100ms")
    try:
        first, second = next_event(proc), next_event(proc)
    finally:
        proc.kill()
        proc.wait()
    assert first["type"] == second["type"] == "stats"
    assert first["id"] == container_id and "memory" in first["data"]
    finish(runtime, c)


def test_events_of_a_stopped_container_fails(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    runtime.call("events", "--stats", container_id).failed(
        f"container with id {container_id} is not running")
    runtime.delete(container_id).ok()


def test_pause_and_resume_a_created_container(runtime, bundle, container_id):
    """runc 1.1 pauses a created container too; resume brings it back to created."""
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    runtime.call("pause", container_id).ok()
    assert runtime.status(container_id) == "paused"
    runtime.call("pause", container_id).failed("container not running")
    runtime.call("resume", container_id).ok()
    assert runtime.status(container_id) == "created"
    runtime.delete(container_id, force=True).ok()
    procs.wait_exit(c.pid)


def test_update_kernel_memory_is_ignored_with_a_warning(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    before = read(c.pid, "memory", "memory.kmem.limit_in_bytes")
    runtime.call("update", "--kernel-memory", "10m", container_id).ok()
    assert "Kernel memory settings are ignored" in runtime.call(
        "update", "--kernel-memory-tcp", "10m", container_id).ok().stderr_text()
    assert read(c.pid, "memory", "memory.kmem.limit_in_bytes") == before
    finish(runtime, c)


def test_events_interval_must_be_positive(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("events", "--interval", "0s", container_id).failed(
        "duration interval must be greater than 0")
    finish(runtime, c)


def test_ps_table_without_a_pid_column(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("ps", container_id, "-o", "comm").failed("couldn't find PID field in ps output")
    finish(runtime, c)


@pytest.mark.ours_only  # runc prints `null` for a stopped container's empty cgroup
def test_ps_json_of_a_stopped_container_is_an_empty_array(runtime, bundle, container_id):
    c = create(runtime, bundle, container_id)
    runtime.start(container_id).ok()
    procs.wait_exit(c.pid)
    assert runtime.call("ps", "--format", "json", container_id).ok().stdout_text() == "[]\n"
    runtime.delete(container_id).ok()


def _events_stream(runtime, cid: str, interval: str) -> subprocess.Popen:
    argv = [runtime.path, "--root", str(runtime.root), "events", "--interval", interval, cid]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=runtime.env(), bufsize=0)


def next_event(proc: subprocess.Popen) -> dict:
    """The next JSON line of an `events` stream (unbuffered, so select() sees every byte)."""
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], procs.WAIT_TIMEOUT)
        assert ready, f"no event within {procs.WAIT_TIMEOUT}s; so far {line!r}"
        chunk = os.read(proc.stdout.fileno(), 1)  # type: ignore[union-attr]
        assert chunk, f"events exited; so far {line!r}"
        line += chunk
    return json.loads(line)


def test_events_reports_an_oom_kill(runtime, bundle, container_id):
    # `tail` keeps a newline-free stream in memory: it outgrows the 16 MiB limit and is killed.
    c = running(runtime, bundle, container_id,
                script=("echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; "
                        "head -c 200m /dev/zero | tail; sleep 100"),
                resources={"memory": {"limit": 16 << 20, "swap": 16 << 20}})
    proc = _events_stream(runtime, container_id, "1s")  # runc prints the first after 1s
    try:
        first = next_event(proc)
        assert first["type"] == "stats"
        (bundle.rootfs / "tmp" / "go").write_text("go\n")
        while True:
            event = next_event(proc)
            if event["type"] == "oom":
                break
    finally:
        proc.kill()
        proc.wait()
    assert event == {"type": "oom", "id": container_id}
    oom_control = dict(line.split() for line in read(c.pid, "memory", "memory.oom_control").splitlines())
    assert int(oom_control["oom_kill"]) >= 1
    finish(runtime, c)


@pytest.mark.ours_only  # runc streams until the cgroup is removed (delete), not until the init dies
def test_events_stream_ends_when_the_container_stops(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    proc = _events_stream(runtime, container_id, "100ms")
    try:
        next_event(proc)
        runtime.kill(container_id, "KILL").ok()
        procs.wait_exit(c.pid)
        assert proc.wait(timeout=procs.WAIT_TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    runtime.delete(container_id).ok()


def test_update_cpuset(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "--cpuset-cpus", "0", "--cpuset-mems", "0", container_id).ok()
    assert read(c.pid, "cpuset", "cpuset.cpus") == "0"
    assert read(c.pid, "cpuset", "cpuset.mems") == "0"
    finish(runtime, c)


def test_update_without_an_id(runtime):
    runtime.call("update", "--pids-limit", "5").failed()


def test_update_memory_reservation_and_unlimited_memory(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id,
                resources={"memory": {"limit": 40 << 20, "swap": 80 << 20}})
    runtime.call("update", "--memory-reservation", "10m", container_id).ok()
    assert read(c.pid, "memory", "memory.soft_limit_in_bytes") == str(10 << 20)
    # As runc: --memory -1 alone makes swap unlimited too (else the write order would fail).
    runtime.call("update", "--memory", "-1", container_id).ok()
    unlimited = read(c.pid, "memory", "memory.limit_in_bytes")
    assert int(unlimited) > 1 << 60
    assert read(c.pid, "memory", "memory.memsw.limit_in_bytes") == unlimited
    finish(runtime, c)


def test_ps_json_stdout_holds_only_the_array_with_debug_and_log(runtime, bundle, container_id, tmp_path):
    """containerd reads ps output as JSON: debug output and log records stay off stdout."""
    c = running(runtime, bundle, container_id)
    log = tmp_path / "ps.log"
    result = runtime.call("--debug", "--log", log, "--log-format", "json", "ps", "--format", "json",
                          container_id).ok()
    pids = sorted(int(p) for p in read(c.pid, "pids", "cgroup.procs").split())
    assert result.stdout_text() == "[" + ",".join(map(str, pids)) + "]\n"
    finish(runtime, c)


def test_update_blkio_weight_and_realtime_flags(runtime, bundle, container_id):
    c = running(runtime, bundle, container_id)
    runtime.call("update", "--blkio-weight", "321", "--cpu-rt-period", "900000",
                 "--cpu-rt-runtime", "1000", container_id).ok()
    # BFQ on this kernel: no blkio.weight, the weight is blkio.bfq.weight.
    assert read(c.pid, "blkio", "blkio.bfq.weight") == "321"
    assert read(c.pid, "cpu", "cpu.rt_period_us") == "900000"
    assert read(c.pid, "cpu", "cpu.rt_runtime_us") == "1000"
    finish(runtime, c)


@pytest.mark.ours_only  # runc asks systemd over D-Bus and fails with a D-Bus error
def test_systemd_cgroup_without_systemd_is_a_clear_error(runtime, bundle, container_id):
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:ocrtest:{container_id}"
    bundle.save()
    slices_before = {d.name for d in CGROUP_ROOT.iterdir() if (d / "system.slice").exists()}
    runtime.call("--systemd-cgroup", "create", "--bundle", bundle.path, container_id).failed(
        "systemd cgroup driver: systemd is not running on this host")
    assert not runtime.exists(container_id)
    assert {d.name for d in CGROUP_ROOT.iterdir() if (d / "system.slice").exists()} == slices_before
    assert not [d for d in CGROUP_ROOT.iterdir()
                if (d / f"system.slice/ocrtest-{container_id}.scope").exists()]


# --- placement -------------------------------------------------------------------------------

def proc_cgroups(pid: int) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controller: path}; the cgroup2 line is keyed 'unified'."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else ["unified"]:
            out[name] = path
    return out


@pytest.mark.parametrize("form", ["absolute", "relative", "absent"])
def test_cgroups_path_places_the_init_before_start(runtime, bundle, container_id, form):
    # One level deep: runc leaves the parents it makes (the sharing test below covers those).
    own = proc_cgroups(os.getpid())
    # Every hierarchy, the cgroup2 one ("unified") included.
    if form == "absolute":
        bundle.config["linux"]["cgroupsPath"] = f"/ocrtest-{container_id}"
        expected = {c: f"/ocrtest-{container_id}" for c in own}
    else:
        inner = f"ocrtest-{container_id}" if form == "relative" else container_id
        if form == "relative":
            bundle.config["linux"]["cgroupsPath"] = inner
        else:
            bundle.config["linux"].pop("cgroupsPath", None)
        # Below the runtime's own cgroup (the one it inherits from us) in each hierarchy.
        expected = {c: os.path.join(own[c], inner) for c in own}
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    # Created, not started: the init is already where the user's process will run.
    placed = proc_cgroups(c.pid)
    assert placed == expected
    dirs = [CGROUP_ROOT / k / expected[k].lstrip("/") for k in ("memory", "pids", "devices", "unified")]
    assert all(d.is_dir() for d in dirs)
    runtime.delete(container_id, force=True).ok()
    procs.wait_exit(c.pid)
    assert not any(d.exists() for d in dirs)


@pytest.mark.ours_only  # runc removes only the leaf; the parents it made stay behind
def test_two_containers_share_a_parent_and_delete_removes_only_ours(runtime, make_bundle, make_id):
    parent = f"ocrtest-{make_id()}"
    keep = CGROUP_ROOT / "memory" / parent / "not-ours"
    first, second = make_id(), make_id()
    made = []
    try:
        for cid in (first, second):
            b = make_bundle(cid)
            b.config["linux"]["cgroupsPath"] = f"/{parent}/{cid}"
            b.sh(SLEEPER)
            made.append(create(runtime, b, cid))
        keep.mkdir()   # made by someone else inside our parent
        runtime.delete(first, force=True).ok()
        procs.wait_exit(made[0].pid)
        assert not (CGROUP_ROOT / "memory" / parent / first).exists()
        assert (CGROUP_ROOT / "memory" / parent / second).is_dir()
        runtime.delete(second, force=True).ok()
        procs.wait_exit(made[1].pid)
        # The parent holds a cgroup we did not create: it and that cgroup stay.
        assert keep.is_dir()
        assert not (CGROUP_ROOT / "pids" / parent).exists()   # nothing foreign there
    finally:
        for cid in (first, second):
            if runtime.exists(cid):
                runtime.delete(cid, force=True)
        if keep.exists():
            keep.rmdir()
        for ctrl in CGROUP_ROOT.iterdir():
            leftover = ctrl / parent
            if leftover.is_dir() and not any(p.is_dir() for p in leftover.iterdir()):
                leftover.rmdir()   # the parent we kept because of `keep`


@pytest.mark.ours_only  # runc 1.1 `update -r` ignores linux.resources.devices
def test_update_devices_from_a_resources_file(runtime, bundle, container_id, tmp_path):
    c = running(runtime, bundle, container_id)
    before = read(c.pid, "devices", "devices.list").splitlines()
    assert "c 10:229 rwm" not in before and "c 1:3 rwm" in before
    fuse = tmp_path / "fuse.json"
    fuse.write_text(json.dumps({"devices": [{"allow": False, "access": "rwm"},
                                            {"allow": True, "type": "c", "major": 10, "minor": 229,
                                             "access": "rwm"}]}))
    runtime.call("update", "-r", fuse, container_id).ok()
    after = read(c.pid, "devices", "devices.list").splitlines()
    assert sorted(after) == sorted(before + ["c 10:229 rwm"])   # the new rule, runc's defaults kept
    fuse.write_text(json.dumps({"devices": [{"allow": False, "access": "rwm"}]}))
    runtime.call("update", "-r", fuse, container_id).ok()
    assert sorted(read(c.pid, "devices", "devices.list").splitlines()) == sorted(before)
    finish(runtime, c)


def test_exec_places_the_process_in_every_hierarchy_of_the_container(runtime, bundle, container_id):
    bundle.sh(SLEEPER)
    c = create(runtime, bundle, container_id)
    try:
        runtime.start(container_id).ok()
        c.wait_output("ready")
        want = proc_cgroups(c.pid)
        assert "unified" in want and want["unified"].endswith(container_id)
        seen = runtime.call("exec", container_id, "cat", "/proc/self/cgroup").ok().stdout_text()
        got = {}
        for line in seen.splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else ["unified"]:
                got[name] = path
        assert got == want
    finally:
        runtime.delete(container_id, force=True).ok()
        procs.wait_exit(c.pid)
