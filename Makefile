# ociruntime build, install, demo and test entry points.
# Every target does its own set-up so a fresh machine needs only `make run` / `make test`.

SHELL := /bin/bash
REPO := $(abspath .)
VENV := $(REPO)/.venv
VPY := $(VENV)/bin/python
# Debian's interpreter, never a pyenv shim (the shim costs ~60 ms per call) nor a pyenv
# build: Debian's python3.11 is built with PGO and LTO and links libpython statically, which
# measured here 3 ms less per `state`, 5 ms per `run` and 7 ms per `exec` (bench/CHANGES.md).
HOST_PY := /usr/bin/python3.11
PREFIX ?= /usr/local
LAUNCHER := $(PREFIX)/bin/ociruntime
BUNDLE ?= $(REPO)/build/bundle
DEB_PACKAGES := python3.11 python3.11-venv python3.11-dev gcc pkg-config libseccomp-dev libcap-dev busybox-static runc containerd podman conmon
BENCH_PACKAGES := crun

.PHONY: all deps venv build install bundle run test unit integration conformance conformance-ci bench bench-quick lint clean crictl

all: install

# Installs the Debian packages named in $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
endef

deps:
	$(call apt_install,$(DEB_PACKAGES))

$(VPY): requirements.txt
	$(HOST_PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $(VPY)

venv: deps
	@# A venv made from another interpreter (older checkouts used pyenv's) is rebuilt, and
	@# so is the extension built against it.
	@grep -qx "executable = $(HOST_PY)" $(VENV)/pyvenv.cfg 2>/dev/null || \
	  rm -rf $(VENV) ociruntime/linux/_native*.so build/lib.* build/temp.*
	@$(MAKE) --no-print-directory $(VPY)

build: venv
	$(VPY) setup.py -q build_ext --inplace
	$(VPY) -m ociruntime.spec.compile_schema

install: build
	@# Bytecode compiled once here: an unwritable or cold cache costs ~100 ms per verb.
	$(VPY) -m compileall -q ociruntime >/dev/null
	$(VPY) tools/write_launcher.py $(LAUNCHER) $(REPO)

bundle: install
	$(VPY) tools/mkbundle.py $(BUNDLE)

run: bundle
	bash tools/demo.sh $(BUNDLE)

unit: install
	$(VPY) -m pytest -q tests/unit tests/native

integration: bundle
	$(VPY) -m pytest -q tests/integration

test: bundle crictl
	$(VPY) -m ruff check ociruntime tests tools conformance setup.py
	$(VPY) -m pytest -q tests
	$(MAKE) bench-quick
	$(MAKE) conformance-ci

conformance: install
	bash conformance/run.sh

conformance-ci: install
	bash conformance/run.sh --ci

bench: bundle
	@# crun is measured beside runc (bench-quick, run by CI, measures what is installed)
	$(call apt_install,$(BENCH_PACKAGES))
	$(VPY) bench/run.py

crictl: deps
	@# The CRI engine tests (tests/engines) drive containerd with crictl (cri-tools, Go module proxy).
	bash tools/build_crictl.sh

bench-quick: bundle
	$(VPY) bench/run.py --quick

lint: venv
	$(VPY) -m ruff check ociruntime tests tools conformance setup.py

clean:
	rm -rf build $(VENV) ociruntime/linux/_native*.so ociruntime/linux/_native.c
