# The contracts here (install, run, test) are relied on by README's Quick start and by .ci/run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps run chat test test-fast lint content-check bench clean

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

# bubblewrap isolates learner snippets; the runner refuses to work without it. PostgreSQL's
# server binaries: `make test` starts a throwaway server to run the store's tests on it too.
system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "bubblewrap is missing: run 'sudo apt-get install bubblewrap' (snippet execution is disabled until then)"; \
	  fi; }
	@compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "PostgreSQL is missing: run 'sudo apt-get install postgresql' (make test needs it; make test-fast skips those tests)"; \
	  fi; }

# Discord when DISCORD_TOKEN is set, otherwise the terminal chat.
run: install
	$(PY) -m bot run

# The terminal chat as your login name, even when DISCORD_TOKEN is set.
chat: install
	$(PY) -m bot chat

# The whole suite, as CI runs it (.ci/run); the store's tests also run on a PostgreSQL server
# they start themselves, and fail (not skip) if PostgreSQL is not installed. Content snippets run
# once, in the equality test's set-up, which caches the verified results in data/runner-cache;
# `content check --execute` then finds them there (and "Run it" answers from them at once).
# Two pytest processes (pytest-xdist), a whole file to one at a time, in the order collected
# (longest files first: tests/conftest.py): most tests wait on a child (a sandbox, a server,
# `python -m bot`), and one process left the two cores half idle. TEST_PROCESSES=0: one process.
TEST_PROCESSES ?= 2
PARALLEL = -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder
test: lint
	TUTOR_TEST_POSTGRES=require $(PY) -m pytest -q $(PARALLEL)
	$(PY) -m bot content check --execute

# The edit loop: every test that needs neither TensorFlow nor the sandbox (marker `slow`). The
# PostgreSQL runs are skipped, with the reason, where PostgreSQL is not installed;
# `-m 'not slow and not postgres'` leaves them out.
test-fast: install
	$(PY) -m pytest -q -m 'not slow' $(PARALLEL)

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy .

content-check: install
	$(PY) -m bot content check

# The benchmarks are not part of the package: `python -m bench answers|runner|discord`.
BENCH ?= answers
bench: install
	$(PY) -m bench $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
