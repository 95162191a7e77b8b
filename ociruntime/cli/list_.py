"""ociruntime list [--format table|json] [--quiet]"""

from __future__ import annotations

import sys

from ociruntime.cli.args import Flag, parse, require_no_args
from ociruntime.errors import UsageError


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.list_ import list_containers

    parsed = parse(argv, [Flag(("format", "f"), takes_value=True, default="table"), Flag(("quiet", "q"))])
    require_no_args(parsed, "list")
    fmt = parsed.options["format"]
    if fmt not in ("table", "json"):
        raise UsageError(f'invalid format option "{fmt}"')
    containers = list_containers(opts.root)
    if parsed.options["quiet"]:
        sys.stdout.write("".join(c["id"] + "\n" for c in containers))
    elif fmt == "json":
        from ociruntime.state import jsonfast  # not json: it imports re (~6 ms)

        sys.stdout.write(jsonfast.dumps(containers) + "\n")
    else:
        sys.stdout.write(_table(containers))
    return 0


def _table(containers: list[dict]) -> str:
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    rows += [[c["id"], str(c["pid"]), c["status"], c["bundle"], c["created"], c["owner"]] for c in containers]
    # runc: tabwriter with minwidth 12 and padding 3
    widths = [max(12, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(r, widths)) + r[-1] + "\n" for r in rows)
