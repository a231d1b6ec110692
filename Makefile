PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: test demo soak bench docs clean-venv

$(BIN)/featx: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/featx

test: $(BIN)/featx
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

demo: $(BIN)/featx
	$(BIN)/featx run

# the long runs: chaos kills, the 20k-image load test, the fuzz corpus (RELIABILITY.md) and the
# slow end-to-end studies on ../shared/data (run_hymenoptera, transfer_hymenoptera, run_demo)
soak: $(BIN)/featx
	$(BIN)/python -m pytest -q -s -p no:xdist -m slow tests/soak tests/load tests/reliability tests/e2e $(PYTEST_ARGS)
	FEATX_FUZZ_CASES=3000 $(BIN)/python -m pytest -q -n 2 tests/reliability/test_fuzz_images.py $(PYTEST_ARGS)

bench: $(BIN)/featx
	$(BIN)/python benchmarks/run_all.py

# docs/spec.md's key tables, rendered from the spec's schema (the docs test only compares)
docs: $(BIN)/featx
	$(BIN)/python tests/helpers/spec_docs.py

clean-venv:
	rm -rf $(VENV)
