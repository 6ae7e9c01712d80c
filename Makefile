# Two commands: `make study` (set up, then run the whole study at preset quick)
# and `make test` (set up, then the unit tests and every notebook at preset smoke).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: study test setup bench clean-results lab

setup: $(STAMP)

# The stamp is remade whenever pyproject.toml changes. torch==2.14.1 and
# torchvision==0.29.1 are pinned in pyproject.toml; on this machine pip takes
# them from local disk for Python 3.11.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (studylib)" >/dev/null
	@touch $@

study: $(STAMP)
	$(PY) -m studylib run --preset quick
	$(PY) -m studylib summary --preset quick --markdown --write README.md

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/train_throughput.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-results:
	rm -rf results/runs results/executed
