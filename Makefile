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

# Mutation testing of the safety core (not part of `make test`; see docs/mutation.md).
# Extend with e.g. `make mutate MUTATE_PATHS="tbot_core/safety/kill_switch.py tbot_core/x.py"`.
MUTATE_PATHS ?= tbot_core/safety/kill_switch.py tbot_core/safety/watchdog_bot.py tbot_core/safety/escalation.py \
                tbot_core/safety/risk_bot.py tbot_core/runtime/restart.py \
                tbot_core/control.py tbot_core/audit.py tbot_core/gate.py tbot_core/gate_offline.py \
                tbot_core/strategies/open.py tbot_core/strategies/mid.py tbot_core/strategies/close.py \
                tbot_core/enhancements/finnhub_fundamental_guard.py \
                tbot_core/ledger/validate.py tbot_core/ledger/posting.py tbot_core/ledger/sync.py tbot_core/ledger/batch.py tbot_core/ledger/draft.py \
                tbot_core/safety/error_handler.py tbot_core/safety/notifier_bot.py tbot_core/safety/checks.py \
                tbot_core/safety/security_bot.py tbot_core/runtime/supervisor.py \
                tbot_core/runtime/engine.py tbot_core/runtime/engine_waits.py tbot_core/runtime/engine_books.py
MUTATE_FAIL_UNDER ?= 90

mutate: $(STAMP)
	rm -rf mutants
	$(BIN)/python tools/mutation_report.py run --max-children 2 $(MUTATE_PATHS)
	$(BIN)/python tools/mutation_report.py report --fail-under $(MUTATE_FAIL_UNDER) $(MUTATE_PATHS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
