#!/usr/bin/env bash
# Entry point of `make conformance` / `make conformance-ci` (see conformance/README.md).
#   bash conformance/run.sh            all 58 tests for ociruntime and runc (or $RUNTIMES /
#                                      $RUNTIME), writes conformance/results.json + RESULTS.md
#   bash conformance/run.sh --ci       ociruntime only; exits 1 when a test listed in
#                                      conformance/expected.txt is not fully passing
# Other arguments go to the runner: --tests a,b  --timeout S  --runtimes "x y"  --no-prepare
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
PY=${PYTHON:-$REPO/.venv/bin/python}
[[ -x $PY ]] || PY=$(command -v python3)

if (( EUID != 0 )); then
  echo "conformance: must run as root (the suite creates containers)" >&2
  exit 2
fi

bash "$HERE/build.sh"

# The runner undoes its machine preparation itself (also on SIGINT/SIGTERM/SIGHUP); this
# trap covers the runner dying without getting the chance (SIGKILL, crash).
restore() { (cd "$REPO" && "$PY" -m conformance.machine --restore) || true; }
trap restore EXIT

cd "$REPO"
"$PY" -m conformance.runner "$@"
