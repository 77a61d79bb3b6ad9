# Land Cover MLP - developer and CI entry points.
# Every target installs what it needs and is idempotent: a second run skips what is there.
SHELL := /bin/bash
PYTHON_SYS := /usr/bin/python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
PLUGIN_DIR := $(BUILD)/plugins
PKG := landcover_mlp
OUT ?= demo_output
TORCH_VERSION := 2.13.0
APT_PACKAGES := qgis python3-qgis gdal-bin python3-gdal python3-matplotlib python3-sklearn xvfb imagemagick
export PYTHONPATH := $(CURDIR)/$(PLUGIN_DIR)
export QGIS_PLUGINPATH := $(CURDIR)/$(PLUGIN_DIR)
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup system venv link demo test test-all lint format bench package clean

help:
	@echo "make demo    - generate the sample scene, train, classify, evaluate (installs what it needs)"
	@echo "make test    - run lint and the test suite (installs what it needs)"
	@echo "make test-all- also run the slow tests"
	@echo "make bench   - run the benchmark scripts (print figures)"
	@echo "make lint    - ruff check + format check, mypy on core/"

setup: system venv link

# Debian packages: QGIS, its Python bindings and GDAL come from the distribution.
system: $(VENV)/.system-ok
$(VENV)/.system-ok:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

# The venv sees QGIS, GDAL and Debian's numpy (--system-site-packages); torch is pinned to the CPU wheel.
venv: $(VENV)/.deps-ok
$(VENV)/.deps-ok: $(VENV)/.system-ok requirements-dev.txt
	@[ -x $(PY) ] || $(PYTHON_SYS) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -c "import numpy, osgeo, torch; assert numpy.__version__.startswith('1.'), numpy.__version__" 
	@touch $@

# QGIS imports the plugin as a package named landcover_mlp from a plugin folder.
link: $(PLUGIN_DIR)/$(PKG)
$(PLUGIN_DIR)/$(PKG):
	@mkdir -p $(PLUGIN_DIR) && ln -sfn $(CURDIR) $@

demo: setup
	$(PY) -m $(PKG).demo --out $(OUT)

test: setup lint
	$(PY) -m pytest -q -m "not slow" tests

test-all: setup lint
	$(PY) -m pytest -q tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(BUILD) $(OUT) .pytest_cache .ruff_cache
