# The two commands: `make run` and `make test`. Everything else is plumbing for them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint bench clean

setup: $(STAMP)

# Re-installs only when the dependency declarations change.
$(STAMP): pyproject.toml requirements/spacy-model.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/spacy-model.txt
	$(BIN)/python -m pip install --quiet -e ".[dp,dev]"
	touch $(STAMP)

run: setup
	$(BIN)/thresher run pipelines/default.yaml --output out --overwrite

test: setup lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff format --check src tests pipelines benchmarks tools
	$(BIN)/ruff check src tests pipelines benchmarks tools
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks.bench_spine

clean:
	rm -rf $(VENV) out .pytest_cache
