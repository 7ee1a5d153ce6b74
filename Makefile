# Two commands do all set-up on a fresh machine (as root): `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := runc busybox-static skopeo docker-registry docker-compose iproute2 iptables nftables xz-utils tmux procps tini iputils-ping util-linux gcc libc6-dev chromium fonts-dejavu-core
PY_PROJECTS := . plugins/storage_overlay plugins/net_bridge plugins/volume_local plugins/web_ui
STAMP := $(VENV)/.installed
SOCKET ?= /run/moor/moor.sock

.PHONY: install run test test-unit lint stop bench clean debian-packages compile

install: debian-packages $(STAMP) compile
	@ln -sf $(BIN)/moor /usr/local/bin/moor
	@ln -sf $(BIN)/moord /usr/local/bin/moord
	@echo "moor installed: $$(command -v moor), $$(command -v moord)"

debian-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! command -v docker >/dev/null 2>&1; then missing="$$missing docker.io"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml plugins/*/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --config-settings editable_mode=compat \
	  -e '.[test]' $(addprefix -e ,$(filter-out .,$(PY_PROJECTS)))
	@touch $@

# Byte-compile our sources: with PYTHONDONTWRITEBYTECODE set, every CLI start would compile them again.
# moor-shim, the compiled container monitor: moord uses the Python monitor when it is missing.
SHIM := core/moor/monitor/shim/moor-shim
compile: $(SHIM)
	@$(BIN)/python -m compileall -q core plugins >/dev/null

$(SHIM): $(SHIM).c
	@if command -v gcc >/dev/null 2>&1; then gcc -O2 -Wall -Wextra -o $@ $<; \
	else echo "gcc not found: moor-shim not built (moord uses the Python monitor)"; fi

run: install
	@scripts/run-demo

stop:
	@if [ -f /run/moor/moord.pid ]; then kill $$(cat /run/moor/moord.pid) && echo "moord stopped"; fi

# Lint and type checks first: a red check fails `make test` (and CI) before the suite runs.
lint: install
	$(BIN)/ruff check core plugins tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q tests plugins

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV)
