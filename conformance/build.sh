#!/usr/bin/env bash
# Builds the OCI runtime-tools validation suite into conformance/build/:
#   runtimetest (static), rootfs-amd64.tar.gz, validation/<name>.t for each test.
# The suite comes from the Go module proxy at the version pinned in go.mod; its source
# stays in the module cache under conformance/gocache/ (git-ignored), never in the repo.
# Does nothing when the outputs are newer than every input (go.mod, go.sum, this script).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$HERE/build
MODULE=github.com/opencontainers/runtime-tools
EXPECTED_TESTS=58

GO=${GO:-}
if [[ -z $GO ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; else GO=$(command -v go || true); fi
fi
[[ -n $GO && -x $GO ]] || { echo "build.sh: no go toolchain found (set GO=...)" >&2; exit 2; }

# Keep every Go cache inside the git-ignored conformance/gocache/, use exactly this toolchain
# (no automatic toolchain download) and build without cgo so runtimetest is static.
export GOTOOLCHAIN=local GOENV=off CGO_ENABLED=0
export GOPATH=$HERE/gocache/gopath GOMODCACHE=$HERE/gocache/mod GOCACHE=$HERE/gocache/build
export GOFLAGS="-modcacherw -mod=readonly -trimpath"
mkdir -p "$HERE/gocache"
# A go.mod inside gocache/ makes it a separate module, so the module cache is not
# mistaken for packages of ociruntime/conformance.
[[ -f $HERE/gocache/go.mod ]] || printf 'module ignored/gocache\n' > "$HERE/gocache/go.mod"

stamp=$BUILD/.stamp
inputs_digest() {
  { cat "$HERE/go.mod" "$HERE/go.sum" "$HERE/build.sh"; "$GO" version; } | sha256sum | cut -d' ' -f1
}
digest=$(inputs_digest)
if [[ -f $stamp && $(cat "$stamp") == "$digest" && -x $BUILD/runtimetest && -f $BUILD/rootfs-amd64.tar.gz ]] \
   && (( $(find "$BUILD/validation" -maxdepth 1 -name '*.t' -perm -u+x 2>/dev/null | wc -l) == EXPECTED_TESTS )); then
  echo "conformance: suite is up to date in $BUILD"
  exit 0
fi

cd "$HERE"
"$GO" mod download "$MODULE"
moddir=$("$GO" list -m -f '{{.Dir}}' "$MODULE")
version=$("$GO" list -m -f '{{.Version}}' "$MODULE")
commit=${version##*-}
echo "conformance: building $MODULE $version with $("$GO" version)"

# Every validation/<name>/<name>.go is one test (validation/util is the shared library).
tests=()
for dir in "$moddir"/validation/*/; do
  name=$(basename "$dir")
  [[ -f $dir/$name.go ]] && tests+=("$name")
done
if (( ${#tests[@]} != EXPECTED_TESTS )); then
  echo "build.sh: expected $EXPECTED_TESTS validation tests in $moddir, found ${#tests[@]}" >&2
  exit 1
fi

rm -rf "$BUILD.tmp"
mkdir -p "$BUILD.tmp/validation" "$BUILD.tmp/bin"
ldflags="-X main.gitCommit=$commit -X main.version=$(cat "$moddir/VERSION")"
"$GO" build -tags "netgo osusergo" -ldflags "$ldflags" -o "$BUILD.tmp/runtimetest" "$MODULE/cmd/runtimetest"
packages=()
for name in "${tests[@]}"; do packages+=("$MODULE/validation/$name"); done
# One go invocation builds all tests in parallel; each binary is named after its package.
"$GO" build -ldflags "$ldflags" -o "$BUILD.tmp/bin/" "${packages[@]}"
for name in "${tests[@]}"; do mv "$BUILD.tmp/bin/$name" "$BUILD.tmp/validation/$name.t"; done
rmdir "$BUILD.tmp/bin"
install -m 0644 "$moddir/rootfs-amd64.tar.gz" "$BUILD.tmp/rootfs-amd64.tar.gz"
if file "$BUILD.tmp/runtimetest" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "build.sh: runtimetest is not static" >&2
  exit 1
fi

# Swap the fresh tree in; out/ and the rest of conformance/ are untouched.
rm -rf "$BUILD"
mv "$BUILD.tmp" "$BUILD"
echo "$digest" > "$stamp"
echo "conformance: built runtimetest, rootfs-amd64.tar.gz and ${#tests[@]} tests in $BUILD"
