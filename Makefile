# Two commands set up everything from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# Prefer a local CPU wheel of torch (found through pip's configured find-links);
	# fall back to the package registry on machines without one.
	$(BIN)/python -m pip install -q --no-index --no-deps torch || $(BIN)/python -m pip install -q torch
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sparsernn demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	# deepstruct (a peer measured side by side) declares torch<2 but runs on torch 2; install it alone.
	$(BIN)/python -m pip install -q --no-deps deepstruct==0.10.0
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
