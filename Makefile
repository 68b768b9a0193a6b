# `make test` and `make demo` set everything up on a fresh machine: they create .venv and
# install tracefn with its extras whenever pyproject.toml is newer than the install stamp.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,demo]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -x -q

demo: $(STAMP)
	$(PY) examples/train_digits.py

lint: $(STAMP)
	$(VENV)/bin/ruff check tracefn tests examples bench
	$(VENV)/bin/ruff format --check tracefn tests examples bench

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
