# `make run`: set up and launch the app on the embedded default model. `make test`: set up and run the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup chromium benchmark clean

run: setup
	$(PY) app.py

test: setup chromium
	$(PY) -m pytest

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	touch $(STAMP)

# The browser tests use Debian's chromium (Playwright's own browser download cannot run offline).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "install Debian's chromium first: sudo apt-get install chromium" >&2; exit 1; fi; }

clean:
	rm -rf $(VENV)
