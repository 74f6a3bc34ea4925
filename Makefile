# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make run    venv + install + paper home (if none) + console over a running core
#   make test   venv + install + the full test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TBOT_HOME ?= tbot_home
export TBOT_HOME

.PHONY: run test bench install clean mutate

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tbot init --if-missing
	$(BIN)/tbot run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

bench: $(STAMP)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Mutation testing of the safety core (not part of `make test`; see docs/mutation.md): each module of
# [tool.tbot-mutation.tests] in pyproject.toml against its own test files. A subset:
# `make mutate MUTATE_PATHS="tbot_core/safety/kill_switch.py tbot_core/gate.py"`.
MUTATE_PATHS ?=
MUTATE_FAIL_UNDER ?= 90

mutate: $(STAMP)
	$(BIN)/python tools/mutation_report.py all --max-children 2 --fail-under $(MUTATE_FAIL_UNDER) $(MUTATE_PATHS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
