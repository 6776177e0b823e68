# Each target creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench bench-jira reliability stress clean

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
	$(BIN)/lint-imports

reliability: $(VENV)/.dev  ## docs/RELIABILITY.md: every fault and bad input, observed outcome
	$(BIN)/python -m pytest tests --reliability-report docs/RELIABILITY.md

STRESS_RUNS ?= 20
STRESS_TESTS := tests/test_writeback_e2e.py::test_kill_9_during_write_back_then_rerun_leaves_no_duplicate \
	tests/test_one_writer.py

stress: $(VENV)/.dev  ## kill -9 and concurrent write-back tests, STRESS_RUNS times in a row
	@for i in $$(seq 1 $(STRESS_RUNS)); do \
		echo "stress run $$i/$(STRESS_RUNS)"; \
		$(BIN)/python -m pytest -q $(STRESS_TESTS) || { echo "stress: run $$i failed"; exit 1; }; \
	done; echo "stress: $(STRESS_RUNS) runs in a row passed"

bench: $(VENV)/.bench  ## benchmark figures for BENCHMARKS.md
	$(BIN)/python bench/run.py

bench-jira: $(VENV)/.dev  ## the JSM sandbox benchmark (issue 10), 50,000 incidents, loopback
	$(BIN)/python bench/jira.py --records 50000

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
