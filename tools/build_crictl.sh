#!/usr/bin/env bash
# Builds crictl (cri-tools) from the Go module proxy into build/bin/crictl, for the CRI engine
# tests (tests/engines/test_cri.py). The source stays in the module cache under build/go/
# (git-ignored), never in the repo. Does nothing when build/bin/crictl is already this version.
#   tools/build_crictl.sh            # CRICTL_VERSION=v1.37.0 by default; GO=... picks the toolchain
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${CRICTL_VERSION:-v1.37.0}
OUT=$REPO/build/bin/crictl

if [[ -x $OUT ]] && "$OUT" --version 2>/dev/null | grep -qx "crictl version $VERSION"; then
  exit 0
fi

GO=${GO:-}
if [[ -z $GO ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; else GO=$(command -v go || true); fi
fi
# cri-tools v1.37 needs a recent Go (its go.mod says 1.26); Debian 12's golang-go is too old.
[[ -n $GO && -x $GO ]] || { echo "build_crictl.sh: no go toolchain found (install Go >= 1.26 or set GO=...)" >&2; exit 2; }

# Every Go cache inside the git-ignored build/go/; -mod=mod lets `go install pkg@version`
# resolve the module's own requirements from the proxy.
export GOENV=off CGO_ENABLED=0
export GOPATH=$REPO/build/go/path GOMODCACHE=$REPO/build/go/mod GOCACHE=$REPO/build/go/cache
export GOFLAGS="-mod=mod -modcacherw -trimpath" GOBIN=$REPO/build/bin
mkdir -p "$GOBIN"
echo "building crictl $VERSION with $("$GO" version)"
"$GO" install -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$VERSION" \
  "sigs.k8s.io/cri-tools/cmd/crictl@$VERSION"
"$OUT" --version
