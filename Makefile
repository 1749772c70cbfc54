# DropMate: `make run` serves the app with demo data; `make test` runs the tests.
# Both set up .venv first with a Python >= 3.12 (override with PYTHON=/path/to/python3.12).

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test venv migrate seed lint format check clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@interp="$$(bin/find-python)" || exit 1; \
	if [ ! -x "$(PY)" ] || ! "$(PY)" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then \
		echo "Creating $(VENV) with $$interp"; rm -rf "$(VENV)"; "$$interp" -m venv "$(VENV)" || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location"; \
		test $${PIPESTATUS[0]:-0} -eq 0
	@touch $@

venv: $(BIN)/.installed

migrate: venv
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(PY) manage.py migrate --no-input

seed: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(PY) manage.py seed_demo

run: seed
	@echo "Serving DropMate on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	@if [ -n "$$REDIS_URL" ]; then \
		DJANGO_DEBUG=$${DJANGO_DEBUG-1} HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho -f Procfile start; \
	else \
		DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(BIN)/daphne -b $(HOST) -p $(PORT) dropmate.asgi:application; \
	fi

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: venv
	DJANGO_DEBUG=1 $(PY) manage.py check
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles
