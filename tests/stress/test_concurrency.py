"""Concurrent callers: parallel lifecycles, racing creates of one id, and kill/delete/state/
list racing on the same containers. Reduced by default; ``STRESS_FULL=1`` runs the sizes of
issue 8 (8 workers x 200 cycles). ``STRESS_RESULTS=<file>`` appends each test's numbers to
that file as JSON lines (tests/stress/render_results.py turns them into RESULTS.md).

Failures are collected, not raised, inside the workers, so one run reports all of them.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import leaks, procs
from helpers.bundle import Bundle
from helpers.containers import SLEEPER
from helpers.runtime import Result, Runtime

FULL = os.environ.get("STRESS_FULL") == "1"
WORKERS, CYCLES = (8, 200) if FULL else (4, 10)
FAULT_WORKERS, FAULT_CYCLES = (8, 50) if FULL else (4, 6)
RACE_ROUNDS = 10 if FULL else 3
FAULT_STAGES = ("after_state_dir", "after_cgroup", "after_state_written", "stage1_after_namespaces",
                "init_after_mounts", "before_ready", "before_pid_file", "after_pid_file")


def record(test: str, **numbers: object) -> None:
    """Append this test's numbers for RESULTS.md (only when STRESS_RESULTS names a file)."""
    target = os.environ.get("STRESS_RESULTS")
    if target:
        with open(target, "a") as fh:
            fh.write(json.dumps({"test": test, "full": FULL, **numbers}) + "\n")


def _clean_error(result: Result, allowed: tuple[str, ...]) -> str | None:
    """None if the call succeeded or failed with one allowed line; else what was wrong."""
    err = result.stderr_text()
    if "Traceback" in err:
        return f"traceback: {result.describe()}"
    if result.returncode == 0:
        return None
    lines = err.splitlines()
    if result.returncode != 1 or len(lines) != 1 or not any(a in lines[0] for a in allowed):
        return f"unexpected failure: {result.describe()}"
    return None


def _run_workers(count: int, work: Callable[[int], list[str]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(itertools.chain.from_iterable(pool.map(work, range(count))))


def _lifecycle(runtime: Runtime, bundle: Bundle, cid: str, scope: leaks.Scope) -> list[str]:
    pid_file = runtime.io_dir / f"{cid}.pid"
    result = runtime.create(cid, bundle, "--pid-file", pid_file)
    if result.returncode != 0:
        return [f"create {cid}: {result.describe()}"]
    problems = []
    pid = int(pid_file.read_text())
    start = runtime.start(cid)
    if start.returncode != 0:
        problems.append(f"start {cid}: {start.describe()}")
        runtime.kill(cid, "KILL")
    exit_status = procs.wait_exit(pid)
    if start.returncode == 0 and exit_status.exit_code != 0:
        problems.append(f"{cid}: container exited with {exit_status}")
    delete = runtime.delete(cid)
    if delete.returncode != 0:
        problems.append(f"delete {cid}: {delete.describe()}")
        runtime.delete(cid, force=True)
    traces = leaks.container_traces(scope, cid)
    if traces:
        problems.append(f"{cid} left {traces}")
    return problems


def test_parallel_lifecycles(runtime, make_bundle, make_id, leak_scope):
    bundles = [make_bundle(f"worker{n}") for n in range(WORKERS)]
    for b in bundles:
        b.args("true")
        b.save()

    def work(worker: int) -> list[str]:
        return list(itertools.chain.from_iterable(
            _lifecycle(runtime, bundles[worker], make_id(), leak_scope) for _ in range(CYCLES)))

    before = leaks.snapshot(leak_scope)
    failures = _run_workers(WORKERS, work)
    leaked = leaks.check(before, leak_scope)
    record("parallel_lifecycles", workers=WORKERS, cycles=WORKERS * CYCLES, failures=len(failures),
           leaks=len(leaked.report().splitlines()) - 1 if leaked else 0)
    assert failures == [], f"{len(failures)} of {WORKERS * CYCLES} cycles failed:\n" + "\n".join(failures[:5])
    assert not leaked, leaked.report()


@pytest.mark.ours_only
def test_faults_under_concurrency(runtime, make_bundle, make_id, leak_scope):
    """Workers create with a fault at a rotating stage, then `delete --force`: each crash is
    cleaned up while other creates and deletes run next to it."""
    bundles = [make_bundle(f"worker{n}") for n in range(FAULT_WORKERS)]
    for b in bundles:
        b.sh(SLEEPER)
        b.save()
    injected = itertools.count()

    def work(worker: int) -> list[str]:
        problems = []
        for cycle in range(FAULT_CYCLES):
            cid = make_id()
            stage = FAULT_STAGES[(worker + cycle) % len(FAULT_STAGES)]
            created = runtime.create(cid, bundles[worker], extra_env={"OCIRUNTIME_FAULT": stage})
            next(injected)
            if created.returncode == 0:
                problems.append(f"{stage}: create survived its fault: {created.describe()}")
            for check in (runtime.state_result(cid), runtime.call("list")):
                problem = _clean_error(check, ("container does not exist", "state.json is missing"))
                if problem:
                    problems.append(f"{stage}: {problem}")
            pid = _recorded_pid(runtime, cid)
            delete = runtime.delete(cid, force=True)
            if delete.returncode != 0:
                problems.append(f"{stage}: delete --force: {delete.describe()}")
            if pid:
                procs.wait_exit(pid)
            traces = leaks.container_traces(leak_scope, cid)
            if traces:
                problems.append(f"{stage}: {cid} left {traces}")
        return problems

    before = leaks.snapshot(leak_scope)
    failures = _run_workers(FAULT_WORKERS, work)
    leaked = leaks.check(before, leak_scope)
    record("faults_under_concurrency", workers=FAULT_WORKERS, cycles=FAULT_WORKERS * FAULT_CYCLES,
           faults_injected=next(injected), failures=len(failures),
           leaks=len(leaked.report().splitlines()) - 1 if leaked else 0)
    assert failures == [], "\n".join(failures[:5])
    assert not leaked, leaked.report()


def _recorded_pid(runtime: Runtime, cid: str) -> int:
    try:
        return int(json.loads((runtime.root / cid / "state.json").read_text()).get("pid") or 0)
    except (OSError, ValueError):
        return 0


# runc 1.1.5 fails this: a loser may say "exec fifo ... already exists" and remove the
# winner's cgroup.
@pytest.mark.ours_only
def test_concurrent_creates_of_one_id(runtime, bundle, container_id, leak_scope):
    bundle.sh(SLEEPER)
    bundle.save()
    rounds_ok = 0
    for round_ in range(RACE_ROUNDS):
        cid = f"{container_id}-{round_}"
        gate = threading.Barrier(10)

        def attempt(_: int, cid: str = cid, gate: threading.Barrier = gate) -> Result:
            gate.wait()  # not runtime.create: that saves config.json, racing the other threads
            return runtime.call("create", "--bundle", bundle.path, cid)

        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(attempt, range(10)))
        winners = [r for r in results if r.returncode == 0]
        losers = [r for r in results if r.returncode != 0]
        assert len(winners) == 1, "\n\n".join(r.describe() for r in results)
        for loser in losers:
            lines = loser.stderr_text().splitlines()
            assert loser.returncode == 1 and len(lines) == 1, loser.describe()
            assert "container with given ID already exists" in lines[0], loser.describe()
        # The losers did not disturb the winner.
        assert runtime.status(cid) == "created"
        pid = runtime.state(cid)["pid"]
        runtime.delete(cid, force=True).ok()
        procs.wait_exit(pid)
        assert leaks.container_traces(leak_scope, cid) == []
        rounds_ok += 1
    record("concurrent_creates_of_one_id", rounds=RACE_ROUNDS, creates=10 * RACE_ROUNDS,
           winners_per_round=1, failures=RACE_ROUNDS - rounds_ok, leaks=0)


RACE_ALLOWED = ("container does not exist", "container not running", "no such process",
                "cannot delete container", "that is not stopped")


def test_kill_delete_state_list_race(runtime, bundle, make_id, leak_scope):
    bundle.sh(SLEEPER)
    bundle.save()
    count = 4
    calls = itertools.count()
    problems: list[str] = []
    for _round in range(RACE_ROUNDS):
        ids = [make_id() for _ in range(count)]
        pids = {}
        for cid in ids:
            runtime.create(cid, bundle).ok()
            runtime.start(cid).ok()
            pids[cid] = runtime.state(cid)["pid"]

        def chaos(worker: int, ids: list[str] = ids) -> list[str]:
            rng = random.Random(worker)
            found = []
            for _ in range(12):
                cid = rng.choice(ids)
                verb = rng.choice(("kill", "delete", "delete_force", "state", "list"))
                next(calls)
                if verb == "kill":
                    result = runtime.kill(cid, rng.choice(("KILL", "TERM", "USR1")))
                elif verb == "delete":
                    result = runtime.delete(cid)
                elif verb == "delete_force":
                    result = runtime.delete(cid, force=True)
                elif verb == "state":
                    result = runtime.state_result(cid)
                    if result.returncode == 0:
                        status = json.loads(result.stdout_text())["status"]
                        if status not in ("created", "running", "stopped"):
                            found.append(f"state {cid}: status {status}")
                else:
                    result = runtime.call("list", "--format", "json")
                    if result.returncode == 0:
                        for entry in json.loads(result.stdout_text()) or []:
                            if entry["id"] in ids and entry["status"] not in ("running", "stopped"):
                                found.append(f"list: {entry}")
                problem = _clean_error(result, RACE_ALLOWED)
                if problem:
                    found.append(f"{verb} {cid}: {problem}")
            return found

        problems += _run_workers(8, chaos)
        # No half-deleted container: each one is either whole (state answers) or entirely gone.
        for cid in ids:
            state = runtime.state_result(cid)
            if state.returncode != 0:
                assert leaks.container_traces(leak_scope, cid) == [], state.describe()
                assert "container does not exist" in state.stderr_text(), state.describe()
            runtime.delete(cid, force=True).ok()
            procs.wait_exit(pids[cid])
            assert leaks.container_traces(leak_scope, cid) == []
    record("kill_delete_state_list_race", rounds=RACE_ROUNDS, containers=RACE_ROUNDS * count,
           calls=next(calls), failures=len(problems), leaks=0)
    assert problems == [], "\n".join(problems[:5])
