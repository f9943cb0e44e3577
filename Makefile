# The two commands a new user needs: `make demo` (the main job) and `make test`.
# The machine's distribution CPython 3.11 when it can make a venv: Debian builds it with PGO and
# LTO, and it runs the project's Python 1.15-1.3x faster than a plain source build such as
# pyenv's (docs/sandbox.md). Elsewhere the python3 on PATH. `make setup PYTHON=...` chooses.
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip' >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3)
VENV ?= .venv
BIN := $(VENV)/bin

# Settings the user writes in .env (see .env.example) reach every command.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif

.PHONY: setup demo test progress airflow celery-demo clean

setup: $(VENV)/.installed

# A fresh install resolves exactly the locked versions (constraints.txt).
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

demo: setup
	$(BIN)/parkdw demo

# Two test processes; each test module stays in one (module fixtures such as the DAG chain run once).
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

progress: setup
	$(BIN)/parkdw progress

# The Airflow UI on http://localhost:$(AIRFLOW_PORT) until Ctrl-C (prints the admin login).
AIRFLOW_PORT ?= 8080
airflow: setup
	$(BIN)/parkdw airflow --port $(AIRFLOW_PORT)

# One simulated day's DAG chain on the CeleryExecutor with Redis and two workers (real processes).
celery-demo: setup
	$(BIN)/parkdw celery-demo

clean:
	rm -rf .parkdw dbt_project/target dbt_project/logs
