#!/usr/bin/env python3
"""Per-verb import cost of ociruntime, measured through the launcher's own flags.

    importtime.py [--bundle DIR] [--repeat N] [--top K]

Drives one real container (create, state, start, state, kill, delete) in a private --root,
each verb run as `python -IS -X frozen_modules=on -X importtime tools/entry.py ...`, and
prints for each verb the total import time and the heaviest imports (cumulative and self).

Two bytecode modes, because they differ a lot and users see both:
- "pyc": the normal case, __pycache__ present (the launcher runs with -I, which ignores
  PYTHONDONTWRITEBYTECODE, so an installed runtime writes and then reuses its .pyc files);
- "nopyc": `-B -X pycache_prefix=<empty dir>`: nothing cached, every module compiled from
  source, the cost a checkout sees when its tree is read-only or freshly cloned and run with
  PYTHONDONTWRITEBYTECODE=1 without -I (e.g. `python -m ociruntime` in a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VPY = str(REPO / ".venv/bin/python")
ENTRY = str(REPO / "tools/entry.py")
LAUNCHER_FLAGS = ["-IS", "-X", "frozen_modules=on"]
VERBS = ("create", "state", "start", "kill", "delete")


def parse_importtime(stderr: str) -> list[tuple[int, int, str]]:
    """(self_us, cumulative_us, dotted name) per `import time:` line, header skipped."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        name = parts[2].rstrip()
        rows.append((int(parts[0]), int(parts[1]), name.strip()))
    return rows


def top_level_total(rows: list[tuple[int, int, str]]) -> int:
    """Sum of self times = total wall time spent importing (cumulative double counts)."""
    return sum(r[0] for r in rows)


def run_verb(argv: list[str], extra_flags: list[str]) -> list[tuple[int, int, str]]:
    cmd = [VPY, *LAUNCHER_FLAGS, *extra_flags, "-X", "importtime", ENTRY, *argv]
    # stderr to a file, not a pipe: a created container's init inherits the runtime's
    # stdio and would hold a pipe open until it exits
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        text = err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): "
                           + "\n".join(ln for ln in text.splitlines() if not ln.startswith("import time:")))
    return parse_importtime(text)


def one_cycle(bundle: str, root: str, extra: list[str]) -> dict[str, list[tuple[int, int, str]]]:
    cid = f"imptime-{uuid.uuid4().hex[:10]}"
    out: dict[str, list[tuple[int, int, str]]] = {}
    try:
        out["create"] = run_verb(["--root", root, "create", "--bundle", bundle, cid], extra)
        out["state"] = run_verb(["--root", root, "state", cid], extra)
        out["start"] = run_verb(["--root", root, "start", cid], extra)
        out["kill"] = run_verb(["--root", root, "kill", cid, "KILL"], extra)
        # delete of a stopped container; kill is asynchronous, so wait for the stop first
        subprocess.run([VPY, *LAUNCHER_FLAGS, ENTRY, "--root", root, "state", cid], stdout=subprocess.DEVNULL)
        out["delete"] = run_verb(["--root", root, "delete", "--force", cid], extra)
    finally:
        subprocess.run([VPY, *LAUNCHER_FLAGS, ENTRY, "--root", root, "delete", "--force", cid],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def sleeping_bundle(src: str, dest: str) -> str:
    """A config copy whose process sleeps, so kill has a live container to signal."""
    import json
    cfg = json.loads(Path(src, "config.json").read_text())
    cfg["process"]["args"] = ["sleep", "60"]
    cfg["root"]["path"] = str(Path(src, cfg["root"]["path"]).resolve())
    Path(dest).mkdir(parents=True, exist_ok=True)
    Path(dest, "config.json").write_text(json.dumps(cfg))
    return dest


def measure(bundle: str, repeat: int, extra: list[str]) -> dict[str, list[list[tuple[int, int, str]]]]:
    runs: dict[str, list[list[tuple[int, int, str]]]] = {v: [] for v in VERBS}
    with tempfile.TemporaryDirectory(prefix="ociruntime-imptime-") as tmp:
        root = os.path.join(tmp, "root")
        b = sleeping_bundle(bundle, os.path.join(tmp, "bundle"))
        for _ in range(repeat):
            for verb, rows in one_cycle(b, root, extra).items():
                runs[verb].append(rows)
    return runs


def summarize(runs: dict[str, list[list[tuple[int, int, str]]]], top: int) -> list[str]:
    lines = []
    for verb in VERBS:
        samples = runs[verb]
        total_ms = statistics.median(top_level_total(r) for r in samples) / 1000
        count = statistics.median(len(r) for r in samples)
        # median self/cumulative time per module over the runs
        selfs: dict[str, list[int]] = {}
        cums: dict[str, list[int]] = {}
        for rows in samples:
            for s, c, name in rows:
                selfs.setdefault(name, []).append(s)
                cums.setdefault(name, []).append(c)
        lines.append(f"### {verb}: {total_ms:.1f} ms importing, {count:.0f} modules")
        heavy_self = sorted(selfs, key=lambda n: -statistics.median(selfs[n]))[:top]
        lines.append("heaviest self: " + ", ".join(
            f"{n} {statistics.median(selfs[n]) / 1000:.2f}" for n in heavy_self))
        ours = [n for n in cums if n.startswith("ociruntime") or "." not in n]
        heavy_cum = sorted(ours, key=lambda n: -statistics.median(cums[n]))[:top]
        lines.append("heaviest cumulative: " + ", ".join(
            f"{n} {statistics.median(cums[n]) / 1000:.2f}" for n in heavy_cum))
        lines.append("")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=str(REPO / "build/bundle"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ociruntime-nopyc-") as empty_prefix:
        modes = {"pyc": [], "nopyc": ["-B", "-X", f"pycache_prefix={empty_prefix}"]}
        for mode, extra in modes.items():
            print(f"## bytecode mode: {mode} (median of {args.repeat}, ms)\n")
            print("\n".join(summarize(measure(args.bundle, args.repeat, extra), args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
