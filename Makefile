# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= runs/demo

.PHONY: demo test test-fast lint bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,beam]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m brats_rev.demo --output_dir=$(DEMO_DIR)

lint: $(STAMP)
	$(PY) -m ruff check .

test: lint
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -n 2 tests

# The inner loop: every test not marked slow.
test-fast: lint
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -n 2 -m "not slow" tests

clean:
	rm -rf $(VENV) runs
