"""ociruntime state <container-id>"""

from __future__ import annotations

import sys

from ociruntime.cli.args import parse, require_id
from ociruntime.state import jsonfast


def main(opts, argv: list[str]) -> int:
    from ociruntime.lifecycle.state import state

    result = state(opts.root, require_id(parse(argv, []), "state"))
    sys.stdout.write(jsonfast.dumps(result, indent=2))  # runc prints no trailing newline
    return 0
