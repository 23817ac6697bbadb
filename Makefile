# Stammtisch: `make run` to try it, `make test` to check it. Needs Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test atproto bench lint format messages clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Stammtisch needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	PORT=$(PORT) HOST=$(HOST) $(BIN)/stammtisch run

test: $(VENV)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy stammtisch
	$(BIN)/python -m stammtisch.devtools.testrun

# Node 22 and @atproto/dev-env into .atproto/ for the Bluesky real-network tests (docs/testing.md).
atproto: $(VENV)/.installed
	$(BIN)/python -m stammtisch.devtools.atproto install

bench: $(VENV)/.installed
	$(BIN)/stammtisch bench all

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: $(VENV)/.installed-dev
	cd stammtisch && ../$(BIN)/django-admin makemessages -l de --no-location --no-obsolete -i 'static/*' -i 'devtools/*' -i '*/tests/*' && ../$(BIN)/django-admin makemessages -d djangojs -l de --no-location -i 'static/stammtisch/vendor/*' || true
	cd stammtisch && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var/static .mypy_cache .ruff_cache
