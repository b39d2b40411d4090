# e3lab: one command to set up and train, one to set up and test.
# The virtual environment is reused when present, so only the first `make` pays for
# torch_scatter / torch_cluster compilation.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.e3lab-installed
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: setup test test-fast lint train bench format clean

setup: $(STAMP)

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

$(VENV)/.torch: | $(VENV)/bin/python
	$(PIP) install -q torch==2.13.0 numpy scipy
	# torch_scatter / torch_cluster ship as source only: compiled against the torch above (their
	# setup.py builds one file at a time, several minutes each); pip's wheel cache makes later
	# venvs on the same machine take seconds.
	$(PY) -c "import torch_scatter, torch_cluster" 2>/dev/null || \
		$(PIP) install -q --no-build-isolation torch-scatter torch-cluster
	touch $@

$(STAMP): pyproject.toml $(VENV)/.torch
	$(PIP) install -q -e ".[dev,plotly]"
	touch $@

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(PY) -m ruff check src tests scripts train.py eval.py md.py
	$(PY) -m ruff format --check src tests scripts train.py eval.py md.py
	$(VENV)/bin/lint-imports

format: setup
	$(PY) -m ruff format src tests scripts train.py eval.py md.py
	$(PY) -m ruff check --fix src tests scripts train.py eval.py md.py

train: setup
	$(PY) train.py experiment=square_to_rect

bench: setup
	$(PY) scripts/bench.py --threads 1

clean:
	rm -rf outputs multirun wandb .pytest_cache .ruff_cache
