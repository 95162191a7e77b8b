"""ociruntime run [options] <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse
from ociruntime.cli.create import CREATE_FLAGS, create_options

RUN_FLAGS = CREATE_FLAGS + [Flag(("detach", "d")), Flag(("keep",)), Flag(("no-subreaper",))]


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.run import run

    parsed = parse(argv, RUN_FLAGS)
    detach = bool(parsed.options["detach"])
    return run(create_options(opts, parsed, "run", detach=detach), keep=bool(parsed.options["keep"]))
