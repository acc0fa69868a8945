# Two commands do all the set-up on a fresh Debian machine with Python 3.11:
#   make demo   - creates the environment, then runs a whole simulated store end to end
#   make test   - creates the environment, then runs ruff, mypy and the whole test suite
# The interpreter: Debian's own python3.11 when it is there (as on the gateways, where install.sh
# uses the system python3; Debian builds it with PGO and LTO, and our pure-Python cores run 25-40 %
# faster on it than on a plain source build such as pyenv's), else the first python3 on PATH.
PYTHON ?= $(shell /usr/bin/python3.11 -c "import ensurepip, venv" >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
ARGS   ?=
STAMP  := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-packages

.PHONY: env system-packages demo test lint typecheck unit bench bench-scale clean

env: $(STAMP) $(SYSSTAMP)

# System packages the simulated store needs (Mosquitto broker, D-Bus daemon for the BlueZ stand-in,
# Chromium + driver for the web display and dashboard tests). Installed only when missing.
$(SYSSTAMP): deploy/system-packages.sh | $(VENV)/bin/python
	bash deploy/system-packages.sh
	@touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

demo: env
	$(VENV)/bin/shelf-sim demo $(ARGS)

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check edge shelf_firmware_bridge models simulators backend tests

typecheck: env
	$(VENV)/bin/mypy

# Two pytest-xdist workers: most tests wait on real processes (brokers, daemons, browsers), so two
# share the 2-core CI machine well; tests/conftest.py makes each module (and all of tests/spark/) one
# unit of work for one worker and gives out the longest units first (hence --no-loadscope-reorder).
# `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 2

test: env lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(ARGS)

bench: env
	$(PY) -m tests.benchmarks $(ARGS)

# Chain scale (not in CI; tens of minutes to hours): build + profiles on synthetic chains of 0.1, 0.3
# and 1 million customers, Spark local mode vs the local engine (see models/README.md).
bench-scale: env
	$(PY) -m models.jobs.bench_scale $(ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
