# kefu: `make demo` runs it with demo data; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
VENDOR := src/kefu/web/static/vendor
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: install demo serve test lint typecheck pytest assets browser mailserver clean bench messages

install: $(VENV)/.installed assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

assets: $(VENDOR)/.copied

$(VENDOR)/.copied: node_modules/.installed
	mkdir -p $(VENDOR)/htmx $(VENDOR)/swagger-ui $(VENDOR)/echarts
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/htmx.org/dist/ext/ws.js $(VENDOR)/htmx/ 2>/dev/null || true
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts/
	touch $@

demo: install
	$(BIN)/kefu demo
	$(BIN)/kefu serve

serve: install
	$(BIN)/kefu serve

browser:
	@sh scripts/ensure-chromium.sh

mailserver:
	@sh scripts/ensure-dovecot.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install browser mailserver
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	@sh scripts/ensure-wrk.sh
	$(BIN)/python -m bench.api

# Extract the UI's strings and update every language's catalogue (see docs/ui.md).
messages: install
	$(BIN)/python -m kefu.web.catalogue update

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
