# zdensity: `make run` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	$(PY) -m pip install --quiet -e '.[test]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	touch $(STAMP)

# The headline experiment: the 2012 contenders behind the zram of their time, today's
# zsmalloc, zbud and the ideal bound behind today's zram, on the bundled real dump.
HEADLINE := zram-legacy/xvmalloc,zram-legacy/zsmalloc-2012,zram/zsmalloc,zram/zbud,zram/ideal

run: $(STAMP)
	$(VENV)/bin/zdensity run --frontend zram,zram-legacy --allocators $(HEADLINE)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) build *.egg-info
