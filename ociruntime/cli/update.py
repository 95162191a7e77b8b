"""ociruntime update [-r FILE|-] [--memory N ...] <container-id>"""

from __future__ import annotations

import sys

from ociruntime.cli.args import Flag, parse, require_id
from ociruntime.errors import OciError

# runc's per-field flags (runc spells cpu shares `--cpu-share`; `--cpu-shares` is accepted too).
VALUE_FLAGS = (
    "memory", "memory-swap", "memory-reservation", "kernel-memory", "kernel-memory-tcp",
    "cpu-share", "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-runtime", "cpu-rt-period",
    "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight",
)
# runc 1.1 warns about and ignores these: kernel memory accounting is obsolete.
IGNORED_FLAGS = ("kernel-memory", "kernel-memory-tcp")

FLAGS = [Flag(("resources", "r"), takes_value=True)] + [
    Flag((name,), takes_value=True) for name in VALUE_FLAGS]


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.update import update

    parsed = parse(argv, FLAGS)
    container_id = require_id(parsed, "update")
    source = parsed.options["resources"]
    if source:
        # As runc: with a resources document every per-field flag is ignored.
        resources = _read_resources(str(source))
    else:
        resources = _from_flags(parsed.options)
    update(opts.root, container_id, resources)
    return 0


def _read_resources(source: str) -> dict:
    from ociruntime.spec.load import load_resources

    if source == "-":
        return load_resources(sys.stdin.buffer.read(), "stdin")
    try:
        with open(source, "rb") as fh:
            text = fh.read()
    except OSError as err:
        raise OciError(f"open {source}: {(err.strerror or str(err)).lower()}") from None
    return load_resources(text, source)


def _from_flags(options: dict) -> dict:
    from ociruntime import log
    from ociruntime.cgroups.cli_support import resources_from_flags

    given: dict[str, str] = {}
    ignored = False
    for name in VALUE_FLAGS:
        value = options.get(name.replace("-", "_"))
        if value is None or value == "":
            continue
        if name in IGNORED_FLAGS:
            ignored = True
            continue
        given[name] = str(value)
    if ignored:
        log.logger.warning("Kernel memory settings are ignored and will be removed")
    resources = resources_from_flags(given)
    memory = resources.get("memory") or {}
    # As runc: an unlimited memory limit without a swap value means unlimited swap too.
    if memory.get("limit") == -1 and "swap" not in memory:
        memory["swap"] = -1
    return resources
