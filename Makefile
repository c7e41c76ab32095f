# dispatch — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install migrate demo bench clean lock

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/dispatch db upgrade

demo: migrate
	$(BIN)/dispatch demo

## Start web + worker + beat on the embedded default (SQLite, filesystem broker, outbox).
run: demo
	$(BIN)/dispatch run --no-migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Lint, type-check and run the whole test suite.
test: lint
	$(BIN)/pytest

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks (not tests): composition, then a 100,000-recipient send on PostgreSQL + Redis.
bench: install
	$(BIN)/python bench/compose.py
	$(BIN)/python bench/send.py --recipients 100000

## Re-resolve the pinned dependencies after editing pyproject.toml.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
