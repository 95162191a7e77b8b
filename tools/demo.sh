#!/usr/bin/env bash
# Walk one real container through create -> state -> start -> state -> kill -> delete,
# printing each state. Usage: tools/demo.sh BUNDLE   (the bundle is not modified).
# Runtime: $OCI_RUNTIME, else `ociruntime` on PATH, else /usr/local/bin/ociruntime.
# Uses a private --root and leaves nothing behind; exits non-zero on any failure.
set -euo pipefail

bundle=$(cd "${1:?usage: demo.sh BUNDLE}" && pwd)
runtime=${OCI_RUNTIME:-$(command -v ociruntime || echo /usr/local/bin/ociruntime)}
[ -x "$runtime" ] || { echo "demo: runtime $runtime not found (make install)" >&2; exit 1; }
[ -d "$bundle/rootfs" ] && [ -f "$bundle/config.json" ] || { echo "demo: $bundle is not a bundle" >&2; exit 1; }

work=$(mktemp -d /tmp/ociruntime-demo.XXXXXX)
root=$work/root
id=demo-$$-$RANDOM
rt() { "$runtime" --root "$root" "$@"; }
cleanup() {
    rt delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A copy of config.json whose root points at the caller's rootfs and whose process greets and
# waits for SIGTERM (sh as pid 1 only dies of signals it handles).
mkdir -p "$work/bundle"
python3 - "$bundle" "$work/bundle/config.json" <<'EOF'
import json, sys
bundle, out = sys.argv[1], sys.argv[2]
with open(f"{bundle}/config.json") as f:
    config = json.load(f)
root = config.setdefault("root", {})
root["path"] = f"{bundle}/{root.get('path', 'rootfs')}" if not root.get("path", "").startswith("/") else root["path"]
process = config.setdefault("process", {})
process["terminal"] = False
process["args"] = ["sh", "-c", 'echo hello from ociruntime; trap "exit 0" TERM; while :; do sleep 1; done']
with open(out, "w") as f:
    json.dump(config, f, indent=2)
EOF

status_of() { rt state "$id" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
expect() {  # expect STATUS: print the state JSON and check its status
    echo "--- state ($1 expected)"
    rt state "$id"
    echo
    local got
    got=$(status_of)
    [ "$got" = "$1" ] || { echo "demo: status is '$got', expected '$1'" >&2; exit 1; }
}
wait_for() {  # wait_for STATUS: poll up to 10 s
    for _ in $(seq 100); do [ "$(status_of)" = "$1" ] && return 0; sleep 0.1; done
    echo "demo: container never reached '$1'" >&2; exit 1
}

echo "runtime: $runtime ($("$runtime" --version | head -n1))"
echo "--- create $id"
rt create --bundle "$work/bundle" --pid-file "$work/init.pid" "$id"
echo "init pid: $(cat "$work/init.pid")"
expect created
echo "--- start"
rt start "$id"
sleep 0.5   # let the greeting through before the next state
expect running
echo "--- kill (SIGTERM)"
rt kill "$id" TERM
wait_for stopped
expect stopped
echo "--- delete"
rt delete "$id"
if rt state "$id" >/dev/null 2>&1; then echo "demo: container still exists after delete" >&2; exit 1; fi
[ -z "$(ls -A "$root")" ] || { echo "demo: state left in $root" >&2; exit 1; }
echo "--- done: container deleted, nothing left"
