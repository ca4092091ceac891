# deepar-assets: `make run` sets up and materializes the whole graph; `make test` runs the checks (lint) and the tests, as CI does.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/quick.yaml
LINTED := deepar_assets deepar_assets_tests benchmarks
export DAGSTER_HOME ?= $(CURDIR)/.deepar/dagster_home

.PHONY: setup run ui test lint clean chromium postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

# torch first: the CPU build from the pinned version; a looser requirement pulled in by
# gluonts would fetch a multi-GB CUDA build. TORCH_INDEX: the index that serves the CPU build;
# empty, pip's own configuration decides (here: a local CPU wheel); elsewhere, e.g.
# `make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu`. deploy/Dockerfile runs the same
# steps (deepar_assets_tests/test_dockerfile.py checks that they agree).
TORCH_INDEX ?=
$(VENV)/.installed: $(BIN)/python setup.py pyproject.toml
	$(BIN)/pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	touch $@

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

# Honours DEEPAR_SOURCE, DEEPAR_STORAGE, DEEPAR_BACKEND, ... and CONFIG. Runs the whole graph in
# process (deepar_assets/launch.py): one line per asset, the trials with the time left, then the
# summary of this run; Dagster's full event log stays in the Dagster home (make ui).
# A model that does not beat seasonal naive is refused by the blocking gate on best_model:
# the run then fails by design, and the summary says why (exit 0); any other failure fails.
run: setup
	$(BIN)/python -m deepar_assets.launch -c $(CONFIG)

ui: setup
	env --default-signal=INT,TERM $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

# What CI runs (.ci/run): the static checks (lint), then the tests.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser test's Chromium, from Debian (root, or sudo); the test skips without it.
chromium:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; fi

# Debian's PostgreSQL server binaries (root, or sudo), for the instance tests; .ci/run starts a
# server with .ci/postgres.py, and the tests start one themselves when none is given.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then echo "postgresql: $$(ls -d /usr/lib/postgresql/*/bin)"; \
	else SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; fi

# ruff (lint and format) on the code and the tests, mypy on the package (pyproject.toml [tool.mypy]),
# and `dg check defs` ([tool.dg]): the definitions load for every shipped dataset spec.
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	@for spec in datasets/*.yaml; do name=$$(basename $$spec .yaml); echo "dg check defs ($$name)"; \
	  DEEPAR_DATASET=$$name $(BIN)/dg check defs || exit 1; done

clean:
	rm -rf .deepar
