# Two entry points, each building its own virtual environment from the project's files.
#   make report   the main job: trains scratchnet and its PyTorch twin on MNIST, writes reports/
#   make test     the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/scratchnet report $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	$(BIN)/scratchnet bench $(ARGS)

clean:
	rm -rf $(VENV)
