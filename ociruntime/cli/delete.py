"""ociruntime delete [--force] <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse, require_id


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.delete import delete

    parsed = parse(argv, [Flag(("force", "f"))])
    delete(opts.root, require_id(parsed, "delete"), force=bool(parsed.options["force"]))
    return 0
