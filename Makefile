# Land Cover MLP - developer and CI entry points.
# Every target installs what it needs and is idempotent: a second run skips what is there.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
PLUGIN_DIR := $(BUILD)/plugins
PKG := landcover_mlp
OUT ?= demo_output
APT_PACKAGES := qgis python3-qgis gdal-bin python3-gdal python3-matplotlib python3-sklearn python3-venv xvfb imagemagick
# The Python QGIS runs its plugins on: the libpython that QGIS's Python support library links
# (Debian 12: 3.11, Debian 13: 3.13, unstable: 3.14), never the first python3 on PATH (a pyenv
# or conda python3 cannot import PyQGIS). Expanded when a recipe runs, after `system`
# installed QGIS; /usr/bin/python3 until then.
QGIS_PYTHON = $(shell lib=$$(ls /usr/lib/libqgispython.so* /usr/lib/*/libqgispython.so* 2>/dev/null | head -n 1); \
  v=$$([ -n "$$lib" ] && ldd "$$lib" | grep -o 'libpython3\.[0-9]*' | head -n 1 | sed 's/^lib//'); \
  if [ -n "$$v" ] && [ -x "/usr/bin/$$v" ]; then echo "/usr/bin/$$v"; else echo /usr/bin/python3; fi)
export PYTHONPATH := $(CURDIR)/$(PLUGIN_DIR)
export QGIS_PLUGINPATH := $(CURDIR)/$(PLUGIN_DIR)
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup system venv link demo test test-all check-qt6 test-lts lint format bench mutants package clean

help:
	@echo "make demo    - generate the sample scene, train, classify, evaluate (installs what it needs)"
	@echo "make test    - run lint and the test suite (installs what it needs)"
	@echo "make test-all- also run the slow tests"
	@echo "make check-qt6 - load the .ui files and ui/ modules with PyQt6 (QGIS 4's Qt), offscreen"
	@echo "make test-lts  - the test suite on QGIS 3.44 LTR of Debian unstable, in a chroot (heavy)"
	@echo "make bench   - run the benchmark scripts (print figures)"
	@echo "make mutants - mutation testing with mutmut (MODULES=core/x.py ..., BUDGET=minutes); not in CI"
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

# The venv is made with QGIS's own Python and sees QGIS, GDAL and the numpy QGIS was built
# against (--system-site-packages). A venv of another Python (the machine moved to a newer
# Debian) is made anew. pip may not replace that numpy: build/constraints.txt pins it to the
# version Debian installed, and the check after pip fails when the venv imports any other numpy
# than the one QGIS's Python imports. torch is pinned per Python in requirements-dev.txt, and
# so are dask and distributed (Dask clusters; numpy-free: the check imports them too).
venv: $(VENV)/.deps-ok
$(VENV)/.deps-ok: $(VENV)/.system-ok requirements-dev.txt
	@set -e; qgis_py=$(QGIS_PYTHON); \
	$$qgis_py -c 'import qgis.core' 2>/dev/null || { echo "error: $$qgis_py cannot import qgis.core: is python3-qgis installed?"; exit 1; }; \
	want=$$($$qgis_py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	have=$$([ -x $(PY) ] && $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' || true); \
	if [ "$$have" != "$$want" ]; then \
	  echo "Making $(VENV) with QGIS's Python $$qgis_py (Python $$want)"; \
	  $$qgis_py -m venv --clear --system-site-packages $(VENV); touch $(VENV)/.system-ok; \
	fi; \
	mkdir -p $(BUILD); \
	$$qgis_py -c 'import numpy; print("numpy==" + numpy.__version__)' > $(BUILD)/constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check -c $(BUILD)/constraints.txt -r requirements-dev.txt
	@qgis_np=$$($(QGIS_PYTHON) -c 'import numpy; print(numpy.__file__)'); \
	venv_np=$$($(PY) -c 'import numpy, osgeo.gdal, torch, distributed; print(numpy.__file__)'); \
	if [ "$$qgis_np" != "$$venv_np" ]; then \
	  echo "error: $(VENV) imports numpy from $$venv_np, not the numpy QGIS was built against ($$qgis_np)."; \
	  echo "Remove $(VENV) and run make again."; exit 1; \
	fi; \
	$(PY) -c 'import sys, numpy, torch, dask; from osgeo import gdal; print("Python %d.%d, numpy %s, GDAL %s, torch %s, dask %s" % (*sys.version_info[:2], numpy.__version__, gdal.__version__, torch.__version__, dask.__version__))'
	@touch $@

# QGIS imports the plugin as a package named landcover_mlp from a plugin folder.
link: $(PLUGIN_DIR)/$(PKG)
$(PLUGIN_DIR)/$(PKG):
	@mkdir -p $(PLUGIN_DIR) && ln -sfn $(CURDIR) $@

demo: setup
	$(PY) -m $(PKG).core demo --output-dir $(OUT)
	bash resources/qgis_process_demo.sh $(OUT) $(PY)

test: setup lint
	$(PY) -m pytest -q -m "not slow" tests

test-all: setup lint
	$(PY) -m pytest -q tests

# QGIS 4 (Qt 6) has no Debian package: the ui/ code and .ui files are loaded and driven with
# PyQt6 from PyPI in build/qt6-venv, with a stand-in qgis package (tests/qt6). Not in CI.
check-qt6: setup
	QGIS_PYTHON=$(QGIS_PYTHON) bash tests/qt6/run_qt6_check.sh

# The QGIS tier on QGIS 3.44 LTR (Debian unstable: Python 3.14, numpy 2.x) in a debootstrap
# chroot under build/lts-sid; several GB (QGIS and the CUDA build of torch). Not in CI.
test-lts:
	bash tests/lts/run_lts.sh

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
	$(PY) benchmarks/distributed.py

# Mutation testing (tests/mutation/mutants.py): mutmut mutates the named modules in a stage
# under build/mutation and runs the default suite's tests that reach each mutant; results are
# kept in tests/mutation/cache (committed), so a run continues where the last one stopped.
# BUDGET=60 stops after an hour; MODULES="core/accuracy.py core/splitting.py" narrows it.
# Not in CI (hours for the whole set on 2 cores).
MUTMUT_VERSION := 3.8.1
mutants: setup
	$(PY) -m pip install -q --disable-pip-version-check -c $(BUILD)/constraints.txt mutmut==$(MUTMUT_VERSION)
	env -u PYTHONPATH $(PY) tests/mutation/mutants.py $(if $(MODULES),--modules $(MODULES)) $(if $(BUDGET),--budget $(BUDGET))

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
	git update-index -q --refresh >/dev/null || true; \
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

# build/lts-sid mounts /proc, /sys and /dev while make test-lts runs: never delete through a
# mount (--one-file-system), and refuse while one is there.
clean:
	@if grep -qs " $(CURDIR)/$(BUILD)/" /proc/mounts; then \
	  echo "error: something is mounted under $(BUILD)/ (make test-lts running?): not cleaning."; exit 1; fi
	rm -rf --one-file-system $(BUILD) $(OUT) .pytest_cache .ruff_cache
