"""ociruntime pause <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import parse, require_id


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.pause import pause

    pause(opts.root, require_id(parse(argv, []), "pause"))
    return 0
