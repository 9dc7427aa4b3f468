# Fresh machine: `make demo` or `make test` sets everything up first (safe to run twice).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@# the sandbox for student code (bubblewrap); util-linux brings setpriv and prlimit
	@command -v bwrap >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else echo "please install bubblewrap (sudo apt-get install bubblewrap) and run make again" >&2; exit 1; fi; }
	@# Debian's chromium drives the formgrader's browser test (through Playwright, no browser download)
	@command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "note: chromium is missing (sudo apt-get install chromium); the formgrader browser test will be skipped" >&2; fi; }
	@# Debian's PostgreSQL server: the gradebook's end-to-end test starts one of its own on loopback
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	  else echo "note: PostgreSQL is missing (sudo apt-get install postgresql); its gradebook test will be skipped" >&2; fi; }
	@# Debian's Slurm and munge: the --cluster slurm test starts a one-node Slurm cluster of its own on loopback
	@command -v slurmd >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmd slurmctld munge; \
	  else echo "note: Slurm is missing (sudo apt-get install slurmd slurmctld munge); its cluster test will be skipped" >&2; fi; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/course demo

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf $(VENV) .course-cache demo
