"""ociruntime ps [--format table|json] <container-id> [ps options]"""

from __future__ import annotations

import sys

from ociruntime.cli.args import Flag, parse, require_id
from ociruntime.errors import UsageError

FLAGS = [Flag(("format", "f"), takes_value=True, default="table")]


def main(opts, argv: list[str]) -> int:
    from ociruntime.cgroups.cli_support import ps_json, ps_table
    from ociruntime.lifecycle.ps import container_pids

    # Like runc (SkipArgReorder): everything after the id goes to ps unparsed.
    parsed = parse(argv, FLAGS, stop_at_positional=1)
    container_id = require_id(parsed, "ps", exact=False)
    fmt = parsed.options["format"]
    if fmt not in ("table", "json"):
        raise UsageError("invalid format option")
    pids = container_pids(opts.root, container_id)
    if fmt == "json":
        # containerd parses stdout (stderr mixed in): the array and nothing else.
        sys.stdout.write(ps_json(pids) + "\n")
        return 0
    sys.stdout.write(ps_table(pids, parsed.positionals[1:]))
    return 0
