# The contracts here (install, run, test) are relied on by README's Quick start and by .ci/run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps run chat test lint content-check bench clean

install: $(STAMP) system-deps

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version 2>&1)). Set PYTHON=python3.11."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# bubblewrap isolates learner snippets; the runner refuses to work without it.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "bubblewrap is missing: run 'sudo apt-get install bubblewrap' (snippet execution is disabled until then)"; \
	  fi; }

# Discord when DISCORD_TOKEN is set, otherwise the terminal chat.
run: install
	$(PY) -m bot run

# content check --execute runs every content snippet in the sandbox (results of snippets verified
# before come from data/runner-cache, so it is quick after the first run; CI starts without one).
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q
	$(PY) -m bot content check --execute

lint: install
	$(PY) -m ruff check .

content-check: install
	$(PY) -m bot content check

bench: install
	$(PY) -m bot bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
