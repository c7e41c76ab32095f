# dispatch — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format install hooks migrate demo bench clean lock

# The stamp is written last: an install cut short (Ctrl-C, no network) runs again next time,
# and a virtualenv left without a working pip is made anew rather than failing forever.
$(STAMP): requirements.lock pyproject.toml
	@if ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		echo "Creating $(VENV)…"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/dispatch db upgrade

demo: migrate
	$(BIN)/dispatch demo

## Start web, two workers (bulk, and transactional mail) and beat on the embedded default
## (SQLite, filesystem broker, outbox).
run: demo
	$(BIN)/dispatch run --no-migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Lint, type-check and run the whole test suite.
## Four workers on two cores: most tests wait on servers and processes, not on the CPU.
test: lint
	$(BIN)/pytest -n 4 --dist load

## The inner loop: lint and every test but the browser and the slow end-to-end ones.
test-fast: lint
	$(BIN)/pytest -n 4 --dist load -m "not browser and not slow" -q

## Run ruff and mypy before each commit (pre-commit, from the pinned tools in .venv).
hooks: install
	$(BIN)/pre-commit install

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
