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
	@echo "make package- build dist/landcover_mlp-<version>.zip for Install from ZIP"

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
	$(PY) -m $(PKG).core demo --out $(OUT)
	bash resources/qgis_process_demo.sh $(OUT) $(PY)

test: setup lint
	$(PY) -m pytest -q -m "not slow" tests

test-all: setup lint
	$(PY) -m pytest -q tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --follow-imports=silent core

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/throughput.py

# The zip the Plugin Manager's "Install from ZIP" takes: landcover_mlp/ with metadata.txt and
# __init__.py. git archive leaves out what .gitattributes marks export-ignore (tests,
# benchmarks, .ci, dev files). It packs the working tree, not only HEAD: `git stash create`
# snapshots the tracked files with their uncommitted edits (it makes no stash entry and leaves
# the index and the files alone), and untracked files that .gitignore does not ignore are added
# unless an export-ignore line covers them; each is named, so nothing ships by surprise.
# `make package DIST=folder` writes the zip elsewhere.
package: DIST = dist
package:
	@set -euo pipefail; \
	version=$$(sed -n 's/^version=//p' metadata.txt); zip=$(DIST)/$(PKG)-$$version.zip; \
	tree=$$(GIT_AUTHOR_NAME=make GIT_AUTHOR_EMAIL=make@localhost GIT_COMMITTER_NAME=make \
	        GIT_COMMITTER_EMAIL=make@localhost git stash create); \
	ignored=$$(awk '$$2 == "export-ignore" {print $$1}' .gitattributes); extra=(); \
	while IFS= read -r f; do \
	  keep=1; for p in $$ignored; do case "$$f" in $${p%/}|$${p%/}/*) keep=0;; esac; done; \
	  [ $$keep = 1 ] || continue; \
	  dir=$$(dirname "$$f"); if [ "$$dir" = . ]; then dir=; else dir=$$dir/; fi; \
	  extra+=(--prefix="$(PKG)/$$dir" --add-file="$$f"); echo "untracked file packed: $$f"; \
	done < <(git ls-files --others --exclude-standard); \
	mkdir -p "$(DIST)"; rm -f "$$zip"; \
	git archive --worktree-attributes --format=zip "$${extra[@]}" --prefix=$(PKG)/ \
	  -o "$$zip" "$${tree:-HEAD}"; \
	echo "Plugin zip: $$zip (HEAD$${tree:+ with the uncommitted edits})"

clean:
	rm -rf $(BUILD) $(OUT) .pytest_cache .ruff_cache
