# Two commands set up everything from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The exact versions the suite passed with (pip constraints); `make test CONSTRAINTS=` installs without them.
LOCK        := constraints.txt
CONSTRAINTS ?= $(LOCK)
PIN         := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# `make test-latest`: the suite against the newest releases, in a venv of its own.
LATEST     := .venv-latest
LATEST_BIN := $(LATEST)/bin
# The suite runs in this many worker processes (pytest-xdist); `make test TEST_WORKERS=0` runs it in one.
# loadgroup: tests marked with one xdist_group (the Ray tests) share a worker, never running at once.
TEST_WORKERS ?= 2

.PHONY: demo test test-latest lock bench docs lint format clean

# Reinstalls only when pyproject.toml or the lock changed; pip then moves every package to its pinned version.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# Prefer a local CPU wheel of torch (found through pip's configured find-links);
	# fall back to the package registry on machines without one.
	$(BIN)/python -m pip install -q --no-index --no-deps $(PIN) torch || $(BIN)/python -m pip install -q $(PIN) torch
	$(BIN)/python -m pip install -q $(PIN) -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sparsernn demo

# The suite includes the documentation build (tests/test_docs_site.py, the same command as `make docs`)
# and a wheel installed into a fresh virtualenv (tests/test_packaging.py).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/ruff format --check src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The documentation site (Sphinx + numpydoc + MyST), offline; any warning or unresolved reference is an
# error. Open docs/_build/html/index.html.
docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -W --keep-going -q docs docs/_build/html

# No lock and no stamp: every run upgrades .venv-latest to the newest releases pip can find (torch
# included, from the registry) and runs the tests; linting stays with the pinned ruff of `make test`.
test-latest:
	test -x $(LATEST_BIN)/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST_BIN)/python -m pip install -q --upgrade --upgrade-strategy eager -e ".[all]"
	$(LATEST_BIN)/python -m pip freeze --exclude-editable
	$(LATEST_BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# Pin what `make test-latest` just passed with: every package but pip (setuptools too: torch needs
# it at run time), torch without its local label so that a local +cpu wheel of that release fits.
lock: test-latest
	{ grep '^#' $(LOCK); $(LATEST_BIN)/python -m pip freeze --all --exclude-editable | grep -v '^pip==' \
	    | sed -E 's/^(torch==[^+]*)\+.*/\1/'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)

bench: $(STAMP)
	# deepstruct (a peer measured side by side) declares torch<2 but runs on torch 2; install it alone.
	$(BIN)/python -m pip install -q --no-deps deepstruct==0.10.0
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/ruff format --check src tests benchmarks docs/conf.py docs/_ext

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/ruff check --fix src tests benchmarks docs/conf.py docs/_ext

clean:
	rm -rf $(VENV) $(LATEST) build *.egg-info src/*.egg-info docs/_build docs/api/generated
