# `make demo` runs the example scenarios, `make test` the test suite; both build .venv first.

PYTHON := $(shell command -v python3.11 || command -v python3)
VENV := .venv
DEMO_OUT := out/demo

# Root installs system packages itself; anyone else through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv browser demo test fuzz clean

venv: $(VENV)/.installed

# Reinstall only when the dependencies change; the editable install tracks src/ by itself.
$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

# `cartsim demo` itself reports where the outputs went.
demo: venv
	$(VENV)/bin/cartsim demo --out $(DEMO_OUT)

# The web app's browser tests drive Debian's Chromium (no browser download); install it when missing.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

test: venv browser
	$(VENV)/bin/python -m pytest -n 2 -q

# The fuzz test of the suite at length (benchmarks/fuzz.py): more documents, a random seed, findings in out/fuzz.
FUZZ_EXAMPLES := 500

fuzz: venv
	$(VENV)/bin/python benchmarks/fuzz.py --examples $(FUZZ_EXAMPLES)

clean:
	rm -rf out build dist .pytest_cache .hypothesis src/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
