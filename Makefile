# Set-up and everyday commands. Every target creates .venv and installs what it needs when needed:
# `make demo` the runtime only (no ccxt/yfinance: vectorbt imports ccxt whenever it is installed),
# `make test` the runtime plus the test extras. Either order works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.stamp-runtime
TESTS := $(VENV)/.stamp-test
OUT ?= runs/demo

.PHONY: demo test bench install warm browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime install, then compile (and cache) scare's numba kernels so a user's first run does not.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m backtests.orchestration.warm
	touch $@

# The test extras on top of the runtime (ccxt, yfinance, empyrical, dask, backtesting.py, pytest).
$(TESTS): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(RUNTIME)

warm: $(RUNTIME)
	$(BIN)/python -m backtests.orchestration.warm

demo: $(RUNTIME)
	$(BIN)/scare run configs/scare_trades.yaml --out $(OUT)

test: $(TESTS)
	$(BIN)/python -m pytest -q

bench: $(TESTS)
	$(BIN)/python -m benchmarks

# Debian's chromium for the tearsheet browser test (needs root and the package registry).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install chromium to run the browser test (it skips without it)"; fi; }

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
