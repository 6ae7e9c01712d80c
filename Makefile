# Two commands: `make study` (set up, then run the whole study at preset quick)
# and `make test` (set up, then the unit tests and every notebook at preset smoke).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: study study-full publish test test-browser setup bench clean-results lab

setup: $(STAMP)

# The stamp is remade whenever pyproject.toml or this Makefile changes. torch==2.14.1 and
# torchvision==0.29.1 are pinned in pyproject.toml; on this machine pip takes
# them from local disk for Python 3.11. --no-compile: pip would byte-compile every installed module (torch's
# CUDA build and its nvidia packages, about 5 GB), 95 s of the 164 s a fresh install took here (69 s without);
# studylib.cli.warmup then compiles only what the study imports (23 s), even where PYTHONDONTWRITEBYTECODE is set.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e '.[dev]'
	PYTHONDONTWRITEBYTECODE= $(PY) -m studylib.cli.warmup
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@printf '%s\n' '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	@mkdir -p $(VENV)/etc/jupyter
	@printf '%s\n' '{"ServerApp": {"contents_manager_class": "studylib.cli.labcontents.ChapterContentsManager"}}' \
		> $(VENV)/etc/jupyter/jupyter_server_config.json
	@touch $@

study: $(STAMP)
	$(PY) -m studylib run --preset quick
	$(PY) -m studylib summary --preset quick --write README.md

# The maintainers' publication: the study, then this machine's minutes per chapter into the README (make study
# never writes timings into tracked files; they stay in results/executed/timings-quick.json and index.html).
publish: study
	$(PY) -m studylib summary --preset quick --write README.md --timings

# The reference results (issue: results at full): every chapter at preset full, resumable (a rerun trains only
# the runs that are missing), figures into figures/full/ and cards into data_cards/full/; then the README's
# "Results at full" table (beside the quick verdicts, disagreements marked) and full's minutes per chapter.
study-full: $(STAMP)
	$(PY) -m studylib run --preset full
	$(PY) -m studylib summary --preset full --write README.md --timings

# The unit tests and every notebook at smoke, then chapter 2 in JupyterLab in a real browser (tests/browser):
# Python Playwright (pinned in the dev extra) drives Debian's chromium (apt-get install chromium) and never
# downloads a browser (no `playwright install`); where chromium is absent the browser test skips and says so.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest
	$(PY) -m pytest tests/browser

test-browser: $(STAMP)
	$(PY) -m pytest tests/browser

bench: $(STAMP)
	$(PY) bench/train_throughput.py

# JupyterLab rooted at the repository (notebooks/, figures/, data_cards/, results/ all in reach); a chapter
# opens as a notebook on double-click; --allow-root only when running as root (containers)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

clean-results:
	rm -rf results/runs results/executed
