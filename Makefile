# Two entry points, each building its own virtual environment from the project's files.
#   make report   the main job: trains scratchnet and its PyTorch twin on MNIST, writes reports/
#   make test     the whole test suite (what CI runs)
#   make mutation mutation testing of the numerical core (about an hour; not part of CI):
#                 writes reports/mutation/README.md
#   make bench    scratchnet's speed against PyTorch (about 13 minutes; not part of CI):
#                 writes reports/speed/; ARGS="--isa avx2" times the AVX2 code on an AVX-512
#                 CPU and writes reports/speed/avx2/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test bench mutation data browser clean

# The workplace keeps real MNIST beside the project; use it unless SCRATCHNET_DATA says
# otherwise (elsewhere the loader looks in the user cache and downloads).
export SCRATCHNET_DATA ?= $(wildcard ../shared/data)
FASHION_DIR := /usr/share/datasets/fashion-mnist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

report: $(STAMP) data
	$(BIN)/scratchnet report $(ARGS)

# Fashion-MNIST from Debian's package, when this is a Debian machine we may install on;
# elsewhere the loader downloads it (or says where to put it).
data:
	@if [ ! -d $(FASHION_DIR) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null \
		|| echo "note: could not install dataset-fashion-mnist"; fi

# Two pytest workers, one per core (pytest-xdist; the tests run single-threaded, see
# tests/conftest.py). --dist loadscope keeps each module on one worker, so a module-scoped
# fixture (the quick report, the quick benchmark) is built once. `make test ARGS="-n 0"` runs
# everything in one process. Only here: mutation testing runs pytest itself, without -n.
# Headless Chromium from Debian's package, for the test that opens the grading page
# (tests/reference/grade/test_grade.py), installed the way `data` installs Fashion-MNIST.
browser:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null \
		|| echo "note: could not install chromium"; fi

test: $(STAMP) data browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadscope $(ARGS)

bench: $(STAMP)
	$(BIN)/scratchnet bench $(ARGS)

# mutmut lives in its own extra, installed on top of the test environment on first use.
MUTATION_STAMP := $(VENV)/.installed-mutation
$(MUTATION_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(BIN)/python -m reports.mutation $(ARGS)

clean:
	rm -rf $(VENV)
