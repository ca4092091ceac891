# deepar-assets: `make run` sets up and materializes the whole graph; `make test` runs the checks (lint) and the tests, as CI does.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/quick.yaml
LINTED := deepar_assets deepar_assets_tests benchmarks
export DAGSTER_HOME ?= $(CURDIR)/.deepar/dagster_home

.PHONY: setup run ui test lint clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

# torch first: the CPU build from the pinned version; a looser requirement pulled in by
# gluonts would fetch a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python setup.py pyproject.toml
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	touch $@

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster.yaml $@

# Honours DEEPAR_SOURCE, DEEPAR_STORAGE, DEEPAR_BACKEND, ... and CONFIG.
# A model that does not beat seasonal naive is refused by the blocking gate on best_model:
# the run then fails by design, and the summary says why (exit 0); any other failure fails.
run: setup
	@if $(BIN)/dagster asset materialize -m deepar_assets --select '*' \
	    --partition-range "$$($(BIN)/python -m deepar_assets.weeks)" -c $(CONFIG); \
	then $(BIN)/python -m deepar_assets.summary; \
	else $(BIN)/python -m deepar_assets.summary --run-failed; fi

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

# ruff (lint and format) on the code and the tests, mypy on the package (pyproject.toml [tool.mypy]).
lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

clean:
	rm -rf .deepar
