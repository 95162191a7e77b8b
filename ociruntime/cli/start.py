"""ociruntime start <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import parse, require_id


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.start import start

    start(opts.root, require_id(parse(argv, []), "start"))
    return 0
