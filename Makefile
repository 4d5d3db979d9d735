# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

WEB_STAMP := web/dist/.stamp
# The web app imports the node schemas at build time, so flow_schemas/ is a source too.
WEB_SOURCES := $(shell find web/src flow_schemas -type f) web/package.json web/package-lock.json \
	web/index.html web/vite.config.ts web/tsconfig.json web/build.sh

.PHONY: run test lint bench clean web

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# web/dist: npm ci + vite build, only when a source changed (web/build.sh picks Node).
$(WEB_STAMP): $(WEB_SOURCES) | $(STAMP)
	sh web/build.sh

web: $(WEB_STAMP)

run: $(STAMP) $(WEB_STAMP)
	$(VENV)/bin/pytake demo

# The web app's unit tests (vitest) first, so pytest's summary stays the last lines.
test: $(STAMP) $(WEB_STAMP)
	sh web/build.sh test
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/pytake lint examples/*.json

# -P: the script's folder is not put on sys.path, so bench/engine.py cannot
# shadow the engine package.
bench: $(STAMP)
	for b in bench/*.py; do $(PY) -P $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytake web/dist web/node_modules
