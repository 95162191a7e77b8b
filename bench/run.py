#!/usr/bin/env python3
"""Side-by-side benchmark: ociruntime against runc (and crun when it runs here).

    run.py [--bundle DIR] [--quick] [--runs N] [--exec-runs N] [--list-n N] [--workers N]
           [--out bench/RESULTS.md]

One busybox bundle; runtimes alternate inside every round so drift in the machine hits all
of them alike. Each runtime gets a private --root and ids unique to this run; everything
created is deleted at the end, and only pids this script spawned are waited for.
Every runtime process is started with posix_spawn and reaped with wait4, so each sample
carries both wall time and the process's peak RSS (ru_maxrss).
With containers-common installed (podman's), `run` and `exec` are measured once more with
its default seccomp profile, as podman would pass it: what real callers always send.
--quick: few iterations, to prove in CI that the benchmark still works (numbers are noise).
crun 1.8 refuses a hybrid machine while any controller sits on cgroup2, so when crun is
benchmarked hugetlb is moved to a v1 hierarchy for the run (all runtimes then see the same
layout) and moved back at the end, also on SIGINT/SIGTERM/SIGHUP; --keep-cgroups leaves
the machine alone (crun is then reported as not runnable).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from conformance import machine as cgroup_machine  # noqa: E402  (the repo root is not on sys.path)

RUNTIMES = {"ociruntime": "/usr/local/bin/ociruntime", "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
# The default profile podman (containers-common) gives every container: what real callers send.
ENGINE_SECCOMP = Path("/usr/share/containers/seccomp.json")
ENGINE_ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
BASELINE = "runc"


class Sample:
    """One runtime invocation: wall seconds, peak RSS in KiB, exit status, stdout."""

    __slots__ = ("seconds", "maxrss_kib", "status", "stdout")

    def __init__(self, seconds: float, maxrss_kib: int, status: int, stdout: str) -> None:
        self.seconds, self.maxrss_kib, self.status, self.stdout = seconds, maxrss_kib, status, stdout


def spawn(argv: list[str], capture: bool = False) -> Sample:
    """Run argv with stdio on /dev/null (a created init inherits stdio: a pipe would stay
    open), stdout into a temp file when captured; time it and read its rusage."""
    with tempfile.TemporaryFile() as out:
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
        if capture:
            actions.append((os.POSIX_SPAWN_DUP2, out.fileno(), 1))
        else:
            actions.append((os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0))
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - t0
        text = ""
        if capture:
            out.seek(0)
            text = out.read().decode(errors="replace")
    return Sample(elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status), text)


class Runtime:
    def __init__(self, name: str, binary: str, root: str, bundles: dict[str, str]) -> None:
        self.name, self.binary, self.root, self.bundles = name, binary, root, bundles
        self.made: set[str] = set()

    def cmd(self, *args: str, capture: bool = False) -> Sample:
        return spawn([self.binary, "--root", self.root, *args], capture)

    def new_id(self, tag: str) -> str:
        cid = f"bench-{tag}-{uuid.uuid4().hex[:12]}"
        self.made.add(cid)
        return cid

    def create(self, cid: str, kind: str) -> Sample:
        s = self.cmd("create", "--bundle", self.bundles[kind], cid)
        if s.status != 0:
            raise RuntimeError(f"{self.name} create {cid} failed with {s.status}")
        return s

    def status(self, cid: str) -> tuple[str, int]:
        s = self.cmd("state", cid, capture=True)
        if s.status != 0:
            raise RuntimeError(f"{self.name} state {cid} failed with {s.status}")
        st = json.loads(s.stdout)
        return st["status"], int(st.get("pid") or 0)

    def delete(self, cid: str) -> None:
        self.cmd("delete", "--force", cid)
        self.made.discard(cid)

    def cleanup(self) -> None:
        for cid in list(self.made):
            self.delete(cid)
        shutil.rmtree(self.root, ignore_errors=True)


def engine_seccomp_profile() -> dict | None:
    """containers-common's profile as linux.seccomp for an amd64 container with the default
    capabilities, as podman turns it into one: entries for other arches or for capabilities
    the container does not have are left out. None when the file is not installed."""
    if not ENGINE_SECCOMP.exists():
        return None
    prof = json.loads(ENGINE_SECCOMP.read_text())
    rules = []
    for entry in prof["syscalls"]:
        includes, excludes = entry.get("includes") or {}, entry.get("excludes") or {}
        if includes.get("caps") or (includes.get("arches") and "amd64" not in includes["arches"]):
            continue
        if "amd64" in (excludes.get("arches") or []):
            continue
        rule = {"names": entry["names"], "action": entry["action"]}
        for key in ("args", "errnoRet"):
            if entry.get(key) is not None:
                rule[key] = entry[key]
        rules.append(rule)
    return {"defaultAction": prof["defaultAction"], "defaultErrnoRet": prof.get("defaultErrnoRet", 1),
            "architectures": ENGINE_ARCHES, "syscalls": rules}


def make_bundles(src: Path, dest: Path, oci_version: str | None) -> dict[str, str]:
    """Config copies over the one rootfs: `true` for run/lifecycle, `sleep` for long-lived;
    `seccomp-true` and `seccomp-sleep` add the engine's seccomp profile."""
    cfg = json.loads((src / "config.json").read_text())
    cfg["root"]["path"] = str((src / cfg["root"]["path"]).resolve())
    cfg["process"]["terminal"] = False
    if oci_version:
        cfg["ociVersion"] = oci_version
    bundles = {}
    profile = engine_seccomp_profile()
    kinds = [("true", ["true"], None), ("sleep", ["sleep", "3600"], None)]
    if profile is not None:
        kinds += [("seccomp-true", ["true"], profile), ("seccomp-sleep", ["sleep", "3600"], profile)]
    for kind, args, seccomp in kinds:
        d = dest / kind
        d.mkdir(parents=True)
        c = json.loads(json.dumps(cfg))
        c["process"]["args"] = args
        if seccomp is not None:
            c["linux"]["seccomp"] = seccomp
        (d / "config.json").write_text(json.dumps(c, indent=1))
        bundles[kind] = str(d)
    return bundles


def probe(rt: Runtime) -> str | None:
    """None when the runtime can create and delete a container here, else why not."""
    cid = rt.new_id("probe")
    s = spawn([rt.binary, "--root", rt.root, "create", "--bundle", rt.bundles["sleep"], cid])
    err = None
    if s.status != 0:
        with tempfile.TemporaryFile("w+") as errf:
            subprocess.run([rt.binary, "--root", rt.root, "create", "--bundle", rt.bundles["sleep"], cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
            errf.seek(0)
            err = (errf.read().strip().splitlines() or [f"exit {s.status}"])[-1][:300]
    rt.delete(cid)
    return err


# --- the measurements: each returns {runtime: [seconds...]} -----------------------------------

def bench_run(rts: list[Runtime], n: int, kind: str = "true") -> dict[str, list[float]]:
    res: dict[str, list[float]] = {r.name: [] for r in rts}
    for _ in range(n):
        for r in rts:
            cid = r.new_id("run")
            s = r.cmd("run", "--bundle", r.bundles[kind], cid)
            if s.status != 0:
                raise RuntimeError(f"{r.name} run failed with {s.status}")
            res[r.name].append(s.seconds)
            r.delete(cid)
    return res


def lifecycle_once(r: Runtime, kind: str = "true") -> float:
    cid = r.new_id("life")
    t0 = time.perf_counter()
    r.create(cid, kind)
    if r.cmd("start", cid).status != 0:
        raise RuntimeError(f"{r.name} start failed")
    while r.status(cid)[0] != "stopped":
        pass
    if r.cmd("delete", cid).status != 0:
        raise RuntimeError(f"{r.name} delete failed")
    elapsed = time.perf_counter() - t0
    r.made.discard(cid)
    return elapsed


def bench_lifecycle(rts: list[Runtime], n: int, kind: str = "true") -> dict[str, list[float]]:
    res: dict[str, list[float]] = {r.name: [] for r in rts}
    for _ in range(n):
        for r in rts:
            res[r.name].append(lifecycle_once(r, kind))
    return res


def start_sleeper(r: Runtime, kind: str = "sleep") -> str:
    cid = r.new_id("sleep")
    r.create(cid, kind)
    if r.cmd("start", cid).status != 0:
        raise RuntimeError(f"{r.name} start failed")
    return cid


def bench_verb_on_running(rts: list[Runtime], n: int, verb: list[str],
                          kind: str = "sleep") -> dict[str, list[float]]:
    running = {r.name: start_sleeper(r, kind) for r in rts}
    res: dict[str, list[float]] = {r.name: [] for r in rts}
    try:
        for _ in range(n):
            for r in rts:
                argv = [verb[0], running[r.name], *verb[1:]]
                s = r.cmd(*argv, capture=True)
                if s.status != 0:
                    raise RuntimeError(f"{r.name} {' '.join(argv)} failed with {s.status}")
                res[r.name].append(s.seconds)
    finally:
        for r in rts:
            r.delete(running[r.name])
    return res


def bench_list(rts: list[Runtime], count: int, workers: int, n: int) -> tuple[dict, dict]:
    """Create `count` containers per runtime (timed, `workers` at a time), then time `list`."""
    create_total: dict[str, list[float]] = {}
    listing: dict[str, list[float]] = {r.name: [] for r in rts}
    for r in rts:
        ids = [r.new_id("list") for _ in range(count)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda cid, r=r: r.create(cid, "sleep"), ids))
        create_total[r.name] = [time.perf_counter() - t0]
    for _ in range(n):
        for r in rts:
            s = r.cmd("list", capture=True)
            if s.status != 0 or s.stdout.count("\n") < count:
                raise RuntimeError(f"{r.name} list failed or short ({s.status})")
            listing[r.name].append(s.seconds)
    for r in rts:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(r.delete, [c for c in list(r.made) if "-list-" in c]))
    return create_total, listing


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def maxrss_of(r: Runtime, *args: str) -> int:
    """Peak RSS (KiB) of one runtime process, via /usr/bin/time: wait4's ru_maxrss of a child
    spawned straight from this script also counts this script's own pages (vfork/fork share
    or copy them until exec), so a small C parent does the fork instead."""
    with tempfile.NamedTemporaryFile("r") as f:
        s = spawn(["/usr/bin/time", "-f", "%M", "-o", f.name, r.binary, "--root", r.root, *args])
        if s.status != 0:
            raise RuntimeError(f"{r.name} {args[0]} failed with {s.status}")
        return int(f.read().split()[-1])


def bench_rss(rts: list[Runtime], n: int) -> dict[str, dict[str, list[float]]]:
    """KiB: created init VmHWM/VmRSS, and ru_maxrss of the create and state processes."""
    res: dict[str, dict[str, list[float]]] = {}
    for _ in range(n):
        for r in rts:
            d = res.setdefault(r.name, {"init VmHWM": [], "init VmRSS": [], "create maxrss": [],
                                        "state maxrss": []})
            cid = r.new_id("rss")
            d["create maxrss"].append(maxrss_of(r, "create", "--bundle", r.bundles["sleep"], cid))
            _, pid = r.status(cid)
            d["init VmHWM"].append(proc_kib(pid, "VmHWM"))
            d["init VmRSS"].append(proc_kib(pid, "VmRSS"))
            d["state maxrss"].append(maxrss_of(r, "state", cid))
            r.delete(cid)
    return res


# --- report ----------------------------------------------------------------------------------

def spread(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=10, method="inclusive")
    return statistics.median(xs), q[0], q[-1]


def table(title: str, data: dict[str, list[float]], unit: str, scale: float, names: list[str]) -> list[str]:
    lines = [f"### {title}", "", f"| runtime | median {unit} | p10 | p90 | n | ratio / {BASELINE} |",
             "|---|---:|---:|---:|---:|---:|"]
    base = statistics.median(data[BASELINE]) if BASELINE in data else None
    for name in names:
        if name not in data:
            continue
        m, p10, p90 = spread(data[name])
        ratio = f"{m / base:.2f}" if base else "-"
        lines.append(f"| {name} | {m * scale:.1f} | {p10 * scale:.1f} | {p90 * scale:.1f} | {len(data[name])} | {ratio} |")
    return lines + [""]


def versions(names: list[str]) -> list[str]:
    out = []
    for n in names:
        try:
            v = subprocess.run([RUNTIMES[n], "--version"], capture_output=True, text=True, timeout=10).stdout
            out.append(f"- {n}: {v.splitlines()[0] if v else '?'}")
        except OSError as e:
            out.append(f"- {n}: {e}")
    out.append(f"- python: {sys.version.split()[0]} ({REPO / '.venv/bin/python'})")
    return out


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = proc_kib_meminfo()
    return f"{platform.node()}, {os.cpu_count()} CPU ({cpu}), {mem // 1024} MiB RAM, Linux {platform.release()}"


def proc_kib_meminfo() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def plot(lifecycle: dict[str, list[float]], path: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(no plot: matplotlib is not installed in the venv)"
    names = list(lifecycle)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.boxplot([[x * 1000 for x in lifecycle[n]] for n in names], showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names)
    for i, n in enumerate(names, start=1):
        ax.scatter([i] * len(lifecycle[n]), [x * 1000 for x in lifecycle[n]], s=6, alpha=0.4)
    ax.set_ylabel("ms per create → start → state… → delete")
    ax.set_title("lifecycle, busybox true")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"![lifecycle distribution]({path.name})"


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through main's cleanup


class MachineLayout:
    """hugetlb moved to v1 for the run (crun's need), under the conformance machine lock."""

    def __init__(self) -> None:
        self.lock: object | None = None
        self.prep: cgroup_machine.Preparation | None = None

    def hugetlb_to_v1(self) -> str:
        self.lock = cgroup_machine.hold_lock()
        if self.lock is None:
            return "left as is: a conformance run or another benchmark holds the machine"
        stale = cgroup_machine.Preparation.from_journal()
        for problem in stale.restore():  # a run killed before it could undo its changes
            print(f"bench/run.py: undoing an earlier preparation: {problem}", file=sys.stderr)
        self.prep = cgroup_machine.Preparation()
        return self.prep.move_hugetlb_to_v1()

    def restore(self) -> list[str]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the restore finish
        problems = self.prep.restore() if self.prep else []
        self.prep = None
        return problems


def main() -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=str(REPO / "build/bundle"))
    ap.add_argument("--quick", action="store_true", help="few iterations: CI proof that it works")
    ap.add_argument("--runs", type=int, default=50, help="run and lifecycle iterations")
    ap.add_argument("--state-runs", type=int, default=50)
    ap.add_argument("--exec-runs", type=int, default=30)
    ap.add_argument("--list-n", type=int, default=1000, help="containers created for `list` (the issue: 1,000)")
    ap.add_argument("--workers", type=int, default=2, help="parallel creates for `list`")
    ap.add_argument("--rss-runs", type=int, default=5)
    ap.add_argument("--out", default=None, help="default bench/RESULTS.md (quick: build/bench-quick/)")
    ap.add_argument("--runtimes", default="ociruntime,runc,crun")
    ap.add_argument("--keep-cgroups", action="store_true",
                    help="do not move hugetlb to v1 for crun (crun then cannot run on this hybrid machine)")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.state_runs, a.exec_runs, a.list_n, a.rss_runs = 3, 3, 3, 5, 1
    if os.geteuid() != 0:
        print("bench/run.py: needs root (containers with namespaces and cgroups)", file=sys.stderr)
        return 2

    out = Path(a.out or (REPO / ("build/bench-quick" if a.quick else "bench") / "RESULTS.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="ociruntime-bench-"))
    rts: list[Runtime] = []
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    layout = MachineLayout()
    try:
        if "crun" in a.runtimes.split(",") and os.access(RUNTIMES["crun"], os.X_OK) and not a.keep_cgroups:
            notes.append(f"- cgroups for crun: {layout.hugetlb_to_v1()}")
        for name in a.runtimes.split(","):
            if not os.access(RUNTIMES[name], os.X_OK):
                notes.append(f"- {name}: not installed")
                continue
            bundles = make_bundles(Path(a.bundle), tmp / name / "bundles", "1.0.2" if name == "crun" else None)
            rt = Runtime(name, RUNTIMES[name], str(tmp / name / "root"), bundles)
            why = probe(rt)
            if why:
                notes.append(f"- {name}: not runnable here: `{why}`")
                rt.cleanup()
                continue
            rts.append(rt)
        names = [r.name for r in rts]
        print(f"runtimes: {', '.join(names)}", file=sys.stderr)
        sections: list[str] = []
        timings: dict[str, dict[str, list[float]]] = {}
        steps = [
            ("run /bin/true", lambda: bench_run(rts, a.runs)),
            ("lifecycle: create → start → state until stopped → delete", lambda: bench_lifecycle(rts, a.runs)),
            ("state of a running container", lambda: bench_verb_on_running(rts, a.state_runs, ["state"])),
            ("exec true into a running container", lambda: bench_verb_on_running(rts, a.exec_runs, ["exec"] + ["true"])),
        ]
        if all("seccomp-true" in r.bundles for r in rts):
            steps += [
                ("run /bin/true with podman's default seccomp profile",
                 lambda: bench_run(rts, a.runs, "seccomp-true")),
                # what containerd's shim drives for every container (its spec always has a filter)
                ("lifecycle with podman's default seccomp profile",
                 lambda: bench_lifecycle(rts, a.runs, "seccomp-true")),
                ("exec true with podman's default seccomp profile",
                 lambda: bench_verb_on_running(rts, a.exec_runs, ["exec", "true"], "seccomp-sleep")),
            ]
        else:
            notes.append(f"- no seccomp rows: {ENGINE_SECCOMP} (containers-common) is not installed")
        for title, fn in steps:
            print(f"... {title}", file=sys.stderr)
            timings[title] = fn()
            sections += table(title, timings[title], "ms", 1000, names)
        print(f"... list with {a.list_n}", file=sys.stderr)
        create_total, listing = bench_list(rts, a.list_n, a.workers, max(3, a.state_runs // 5))
        sections += table(f"create {a.list_n} containers ({a.workers} workers, total)", create_total, "s", 1, names)
        sections += table(f"list with {a.list_n} created containers", listing, "ms", 1000, names)
        print("... rss", file=sys.stderr)
        rss = bench_rss(rts, a.rss_runs)
        rss_lines = [f"### peak RSS (KiB, median of {a.rss_runs})", "",
                     "| runtime | " + " | ".join(next(iter(rss.values()))) + " |",
                     "|---|" + "---:|" * len(next(iter(rss.values())))]
        for name in names:
            rss_lines.append(f"| {name} | " + " | ".join(f"{statistics.median(v):.0f}" for v in rss[name].values()) + " |")
        base = rss.get(BASELINE)
        if base:
            for name in [n for n in names if n != BASELINE]:
                rss_lines.append(f"| {name} / {BASELINE} | " + " | ".join(
                    f"{statistics.median(v) / statistics.median(base[k]):.2f}" for k, v in rss[name].items()) + " |")
        sections += rss_lines + ["", "init VmHWM/VmRSS: the created-but-not-started container's init from "
                                     "/proc/<pid>/status; maxrss: peak RSS of the runtime process "
                                     "(/usr/bin/time %M = wait4 ru_maxrss, includes descendants it reaped).", ""]
        png = out.with_name("lifecycle.png")
        picture = plot(timings["lifecycle: create → start → state until stopped → delete"], png)
    finally:
        for r in rts:
            r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        restore_problems = layout.restore()
        for problem in restore_problems:
            print(f"bench/run.py: machine restore: {problem}", file=sys.stderr)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        "# ociruntime vs runc (and crun): benchmark results", "",
        f"Generated by `bench/run.py{' --quick' if a.quick else ''}` on {now}.", "",
        f"- machine: {machine()}",
        f"- load average (1/5/15 min) before: {' '.join(load_before)}, after: "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} (a shared VM: other work adds noise)",
        *versions(names), *notes, "",
        "Times are wall clock per runtime process as seen by the caller (posix_spawn → wait4); runtimes "
        "alternate inside each round. Ratio = median / runc's median (< 1 is faster than runc).", "",
    ]
    text = "\n".join(header + sections + ["### lifecycle distribution", "", picture, ""])
    history = REPO / "bench" / "CHANGES.md"  # hand-written: what each change bought, kept across runs
    if not a.quick and history.exists():
        text += "\n" + history.read_text()
    out.write_text(text)
    print(text)
    return 1 if restore_problems else 0  # a machine left changed fails the run (CI's bench-quick)


if __name__ == "__main__":
    sys.exit(main())
