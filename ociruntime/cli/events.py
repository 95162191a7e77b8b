"""ociruntime events [--stats] [--interval 5s] <container-id>"""

from __future__ import annotations

import json
import re
import sys

from ociruntime.cli.args import Flag, parse, require_id
from ociruntime.errors import UsageError

FLAGS = [Flag(("interval",), takes_value=True, default="5s"), Flag(("stats",))]


def _emit(event: dict) -> None:
    # Go's json.Encoder: compact, one object per line.
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# A zero or negative Go duration ("0", "0s", "-5s"): runc's own message for those.
_NOT_POSITIVE = re.compile(r"^(-.*|[0.]+(ns|us|µs|ms|s|m|h)?)$")


def _interval(text: str, parse_duration) -> float:
    try:
        return parse_duration(text)
    except UsageError:
        if _NOT_POSITIVE.match(text) and text != ".":
            raise UsageError("duration interval must be greater than 0") from None
        raise


def main(opts, argv: list[str]) -> int:
    from ociruntime.cgroups.cli_support import parse_duration
    from ociruntime.lifecycle import events

    parsed = parse(argv, FLAGS)
    container_id = require_id(parsed, "events")
    interval = _interval(str(parsed.options["interval"]), parse_duration)
    if parsed.options["stats"]:
        _emit(events.stats_once(opts.root, container_id))
        return 0
    try:
        for event in events.stream(opts.root, container_id, interval):
            _emit(event)
    except BrokenPipeError:
        return 0
    return 0
