"""ociruntime resume <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import parse, require_id


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.pause import resume

    resume(opts.root, require_id(parse(argv, []), "resume"))
    return 0
