"""ociruntime events [--stats] [--interval 5s] <container-id>"""

from __future__ import annotations

import json
import sys

from ociruntime.cli.args import Flag, parse, require_id

FLAGS = [Flag(("interval",), takes_value=True, default="5s"), Flag(("stats",))]


def _emit(event: dict) -> None:
    # Go's json.Encoder: compact, one object per line.
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main(opts, argv: list[str]) -> int:
    from ociruntime.cgroups.cli_support import parse_duration
    from ociruntime.lifecycle import events

    parsed = parse(argv, FLAGS)
    container_id = require_id(parsed, "events")
    interval = parse_duration(str(parsed.options["interval"]))
    if parsed.options["stats"]:
        _emit(events.stats_once(opts.root, container_id))
        return 0
    try:
        for event in events.stream(opts.root, container_id, interval):
            _emit(event)
    except BrokenPipeError:
        return 0
    return 0
