"""ociruntime features: what this build implements (runtime-spec features.md)."""

from __future__ import annotations

import json
import sys

from ociruntime.cli.args import parse, require_no_args


def main(opts, argv: list[str]) -> int:
    from ociruntime.features import features

    require_no_args(parse(argv, []), "features")
    sys.stdout.write(json.dumps(features(), indent=4) + "\n")
    return 0
