"""ociruntime run [options] <container-id>"""

from __future__ import annotations

from ociruntime.cli.args import Flag, parse
from ociruntime.cli.create import CREATE_FLAGS, create_options
from ociruntime.errors import UsageError

RUN_FLAGS = CREATE_FLAGS + [Flag(("detach", "d")), Flag(("keep",)), Flag(("no-subreaper",))]


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.run import run

    parsed = parse(argv, RUN_FLAGS)
    detach = bool(parsed.options["detach"])
    if parsed.options["no_subreaper"] and not detach:
        # runc's init is its own child; ours is forked by stage 1, so only a subreaper gets
        # its exit status back. Detached, run never waits and the flag changes nothing.
        raise UsageError("run: --no-subreaper needs --detach: without the subreaper ociruntime "
                         "cannot wait for the container's init (it is not our direct child)")
    return run(create_options(opts, parsed, "run", detach=detach), keep=bool(parsed.options["keep"]))
