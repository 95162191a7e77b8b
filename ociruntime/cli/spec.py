"""ociruntime spec [--bundle DIR] [--rootless]: write a starter config.json."""

from __future__ import annotations

import json
import os

from ociruntime.cli.args import Flag, parse
from ociruntime.errors import OciError


def main(opts, argv: list[str]) -> int:
    from ociruntime.spec.default import default_config

    parsed = parse(argv, [Flag(("bundle", "b"), takes_value=True, default="."), Flag(("rootless",))])
    path = os.path.join(str(parsed.options["bundle"]), "config.json")
    if os.path.exists(path):
        raise OciError("File config.json exists. Remove it first.", code="usage.invalid")
    config = default_config(rootless=bool(parsed.options["rootless"]))
    try:
        with open(path, "x") as fh:
            fh.write(json.dumps(config, indent="\t") + "\n")
    except OSError as err:
        raise OciError(f"cannot write {path}: {err.strerror}") from None
    return 0
