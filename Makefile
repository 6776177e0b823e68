# Each target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@ $(VENV)/.runtime $(VENV)/.dev

demo: $(VENV)/.runtime  ## sandbox + scan + report, on the embedded default
	$(BIN)/sms-conformance demo

test: $(VENV)/.dev  ## the test suite, offline
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

reliability: $(VENV)/.dev  ## docs/RELIABILITY.md: every fault and bad input, observed outcome
	$(BIN)/python -m pytest tests --reliability-report docs/RELIABILITY.md

bench: $(VENV)/.bench  ## benchmark figures for BENCHMARKS.md
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
