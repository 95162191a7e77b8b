"""Runs the built validation suite against one or more runtimes, one test at a time.

    python -m conformance.runner [--runtimes "ociruntime runc"] [--ci] [--tests a,b] ...

For each runtime and test: snapshot the machine, run `build/validation/<name>.t` with
cwd build/ and RUNTIME set, under a timeout, raw output to out/<runtime>/<name>.tap (stdout)
and .stderr; then count and judge the TAP (tap.py) and remove what the test left behind
(leftovers.py). The machine preparation (machine.py) is made once for the run and undone
at the end, also on error or SIGINT/SIGTERM/SIGHUP.

Default mode writes results.json and RESULTS.md. --ci runs the runtimes given (default
ociruntime), writes out/ci-results.json only, and exits 1 when a test listed in
expected.txt is not fully passing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from conformance import leftovers, machine, processes, report, tap

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"
OUT = HERE / "out"
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
EXPECTED = HERE / "expected.txt"
DEFAULT_TIMEOUT = 60.0  # runc's slowest test takes ~13 s here
DEFAULT_BUDGET = 1500.0  # per runtime: a hanging runtime must not eat CI's 90 minutes


class Interrupted(Exception):
    pass


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def all_tests() -> list[str]:
    return sorted(p.name[:-2] for p in (BUILD / "validation").glob("*.t"))


def read_expected(path: Path = EXPECTED) -> list[str]:
    if not path.exists():
        return []
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def runtime_label(runtime: str) -> str:
    return os.path.basename(runtime.rstrip("/")) or runtime


def _test_env(runtime: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "PYTHON", "VIRTUAL_ENV"))}
    env["RUNTIME"] = runtime
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def run_one(runtime: str, name: str, out_dir: Path, timeout: float) -> dict:
    before = leftovers.Snapshot.take(runtime)
    try:
        finished = processes.run_test([str(BUILD / "validation" / f"{name}.t")], BUILD, _test_env(runtime),
                                      out_dir / f"{name}.tap", out_dir / f"{name}.stderr", timeout)
    finally:  # also when interrupted: kill what the test started, unmount what it mounted
        cleanup = leftovers.clean_after_test(runtime, before)
    counts = tap.parse_tap((out_dir / f"{name}.tap").read_text(errors="replace"))
    verdict = tap.judge(counts, finished.exit_code, finished.timed_out)
    result = {
        "verdict": verdict.name,
        "ok": counts.ok,
        "not_ok": counts.not_ok,
        "skip": counts.skip,
        "exit": finished.exit_code,
        "seconds": round(finished.seconds, 2),
    }
    if verdict.problems:
        result["problems"] = list(verdict.problems)
    if counts.stream_errors:
        result["error_diagnostics"] = [e.splitlines()[0][:300] for e in counts.stream_errors]
    if cleanup.as_dict():
        result["cleaned"] = cleanup.as_dict()
    return result


def _not_run(reason: str) -> dict:
    return {"verdict": "not-run", "ok": 0, "not_ok": 0, "skip": 0, "exit": None, "seconds": 0.0,
            "problems": [reason]}


def run_runtime(runtime: str, tests: list[str], timeout: float, budget: float) -> dict:
    label = runtime_label(runtime)
    out_dir = OUT / label
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    spent = 0.0
    resolved = shutil.which(runtime)
    for index, name in enumerate(tests, 1):
        if resolved is None:
            results[name] = _not_run(f"runtime {runtime!r} not found")
        elif spent > budget:
            results[name] = _not_run(f"time budget of {budget:.0f} s spent")
        else:
            results[name] = run_one(runtime, name, out_dir, timeout)
            spent += results[name]["seconds"]
        r = results[name]
        extra = f"  [{', '.join(r.get('problems', []))}]" if r["verdict"] != "pass" else ""
        done = r.get("cleaned", {})
        kinds = sorted(k for k in done if k not in ("not_ours", "left"))
        cleaned = f"  cleaned: {', '.join(kinds)}" if kinds else ""
        if done.get("left"):
            cleaned += f"  LEFT: {'; '.join(done['left'])}"
        print(f"[{label} {index:2}/{len(tests)}] {name:32} {r['verdict']:7} "
              f"{r['ok']}/{r['ok'] + r['not_ok']} ok {r['seconds']:6.1f}s{extra}{cleaned}", flush=True)
    return {"runtime": runtime, "resolved": resolved, "tests": results}


def summarize(tests: dict[str, dict]) -> dict:
    return {
        "files": len(tests),
        "fully_passing": sum(r["verdict"] == "pass" for r in tests.values()),
        "ok": sum(r["ok"] for r in tests.values()),
        "total": sum(r["ok"] + r["not_ok"] for r in tests.values()),
        "not_ok": sum(r["not_ok"] for r in tests.values()),
        "skip": sum(r["skip"] for r in tests.values()),
        "seconds": round(sum(r["seconds"] for r in tests.values()), 1),
    }


def _runtime_version(resolved: str | None) -> str:
    if resolved is None:
        return ""
    import subprocess

    try:
        proc = subprocess.run([resolved, "--version"], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else ""


def _suite_version() -> str:
    for line in (HERE / "go.mod").read_text().splitlines():
        if "github.com/opencontainers/runtime-tools " in line:
            return line.split()[1]
    return "?"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the OCI runtime-tools validation suite.")
    parser.add_argument("--runtimes", help="space-separated runtimes (default: $RUNTIMES, else $RUNTIME, "
                                           "else 'ociruntime runc'; --ci: 'ociruntime')")
    parser.add_argument("--ci", action="store_true", help="fail when a test in expected.txt does not fully pass")
    parser.add_argument("--tests", help="comma-separated subset of tests (default: all)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("CONFORMANCE_TIMEOUT", DEFAULT_TIMEOUT)))
    parser.add_argument("--budget", type=float, default=float(os.environ.get("CONFORMANCE_BUDGET", DEFAULT_BUDGET)))
    parser.add_argument("--no-prepare", action="store_true", help="leave the machine's cgroup mounts as they are")
    return parser.parse_args(argv)


def choose_runtimes(args: argparse.Namespace) -> list[str]:
    spec = args.runtimes or os.environ.get("RUNTIMES") or os.environ.get("RUNTIME")
    if not spec:
        spec = "ociruntime" if args.ci else "ociruntime runc"
    return spec.split()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("conformance: the suite must run as root", file=sys.stderr)
        return 2
    known = all_tests()
    if len(known) != 58:
        print(f"conformance: expected 58 tests in {BUILD}/validation, found {len(known)}: run build.sh",
              file=sys.stderr)
        return 2
    tests = known if not args.tests else args.tests.split(",")
    unknown = sorted(set(tests) - set(known))
    if unknown:
        print(f"conformance: unknown tests: {', '.join(unknown)}", file=sys.stderr)
        return 2
    runtimes = choose_runtimes(args)

    lock = machine.hold_lock()
    if lock is None:
        print("conformance: another conformance run or benchmark holds the machine; not starting",
              file=sys.stderr)
        return 2

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    processes.become_subreaper()
    started = datetime.datetime.now(datetime.timezone.utc)
    stale = machine.Preparation.from_journal()
    if stale.steps:
        print("conformance: undoing the preparation of an interrupted run first")
        for problem in stale.restore():
            print(f"conformance: {problem}", file=sys.stderr)
    prep = machine.Preparation()
    seccomp_cache = leftovers.SeccompCacheEntries()
    runs: dict[str, dict] = {}
    try:
        notes = ["not prepared (--no-prepare)"] if args.no_prepare else prep.prepare()
        for note in notes:
            print(f"conformance: machine: {note}")
        for runtime in runtimes:
            run = run_runtime(runtime, tests, args.timeout, args.budget)
            run["version"] = _runtime_version(run["resolved"])
            run["summary"] = summarize(run["tests"])
            runs[runtime_label(runtime)] = run
    except Interrupted as exc:
        print(f"conformance: interrupted by {exc}; restoring the machine", file=sys.stderr)
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # let the restore finish
        processes.kill_descendants()
        seccomp_cache.forget_new()
        had_steps = bool(prep.steps)
        problems = prep.restore()
        for problem in problems:
            print(f"conformance: machine restore: {problem}", file=sys.stderr)
        if had_steps and not problems:
            print("conformance: machine preparation undone")

    document = {
        "suite": {"module": "github.com/opencontainers/runtime-tools", "version": _suite_version()},
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"kernel": os.uname().release, "preparation": notes},
        "timeout_seconds": args.timeout,
        "runtimes": runs,
    }
    for label, run in runs.items():
        s = run["summary"]
        print(f"conformance: {label}: {s['fully_passing']}/{s['files']} files fully passing, "
              f"{s['ok']}/{s['total']} assertions ok, {s['skip']} skip, {s['seconds']} s")
    if args.ci:
        return _ci_verdict(document)
    RESULTS_JSON.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    RESULTS_MD.write_text(report.render(document, report.load_reasons()))
    print(f"conformance: wrote {RESULTS_JSON.relative_to(HERE.parent)} and {RESULTS_MD.relative_to(HERE.parent)}")
    return 0


def _ci_verdict(document: dict) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ci-results.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    expected = read_expected()
    failed = 0
    for label, run in document["runtimes"].items():
        regressions = [n for n in expected if run["tests"].get(n, {}).get("verdict") != "pass"]
        failed += len(regressions)
        s = run["summary"]
        for name in regressions:
            r = run["tests"].get(name)
            print(f"conformance-ci: {label}: {name} is in expected.txt but "
                  f"{'was not run' if r is None else ', '.join(r.get('problems', [r['verdict']]))}")
        print(f"conformance-ci: {label}: {len(expected) - len(regressions)}/{len(expected)} expected "
              f"tests fully passing ({s['fully_passing']}/{s['files']} files, {s['ok']}/{s['total']} ok)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
