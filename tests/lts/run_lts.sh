#!/usr/bin/env bash
# Run the plugin's test suite against the QGIS LTR of Debian unstable (sid) in a chroot.
#
#   bash tests/lts/run_lts.sh                      # `make test` inside the chroot (default)
#   LTS_MODE=pytest bash tests/lts/run_lts.sh      # venv + pytest directly, no lint, no Makefile
#   LTS_PYTEST_ARGS="-x -k dialog" bash tests/lts/run_lts.sh
#
# Run as root on a Debian/Ubuntu host. The host's own setup (.venv, build/plugins) is never
# touched: everything lives in build/lts-<suite>/ (git-ignored, excluded from ruff), the log in
# build/lts.log.
#
# Idempotent: the chroot is made once, its Debian packages installed once (stamp files in
# build/lts-<suite>/.lts/), and /work/main/.venv, /work/main/build and pip's cache stay inside
# the chroot between runs, so a second run only syncs the working tree and runs the tests.
#
# Settings (environment variables):
#   LTS_MODE         make (default): `make test`, the Makefile's own install path (system
#                    packages, venv, pinned torch, lint, tests).
#                    pytest: make the venv here (no constraints.txt: it pins numpy<2, which is
#                    wrong next to sid's numpy 2.x), link build/plugins/landcover_mlp, export
#                    what the Makefile exports and run pytest directly.
#   LTS_TARGET       make mode only: the make target (default: test), e.g. demo, test-all.
#   LTS_PYTEST_ARGS  extra pytest options, both modes (passed as PYTEST_ADDOPTS, so `make test`
#                    sees them too), e.g. "-x", "-k 'not desktop'", "--deselect tests/...".
#   LTS_TESTS        pytest mode only: what to collect (default: tests).
#   LTS_MARK         pytest mode only: the -m expression (default: "not slow", as `make test`;
#                    LTS_MARK= runs all, slow ones too).
#   LTS_TREE         worktree (default): the working tree as it is, uncommitted edits and
#                    untracked, not ignored files included. head: the last commit only.
#   LTS_SUITE        Debian suite (default: sid; trixie is the fallback: QGIS 3.40). The log
#                    of another suite than sid is build/lts-<suite>.log (LTS_LOG to change).
#   LTS_MIRROR       Debian mirror (default: http://deb.debian.org/debian).
#   LTS_UPGRADE=1    apt-get dist-upgrade the chroot first (sid moves daily).
#   LTS_SHARED       the folder bound read-only at /work/shared (default: ../shared next to the
#                    repository, where the tests look for ../shared/data).
#   LTS_MIN_FREE_GB  refuse to start with less free disk (default: 20; the chroot with QGIS is
#                    about 2 GB, the venv with the PyPI torch and its CUDA libraries plus pip's
#                    cache of them about 10 GB).
#
# WARNING: while this script runs, build/lts-<suite>/{proc,sys,dev} are the host's. Do not
# `rm -rf build` (or `make clean`) then. The trap below unmounts them when the script ends,
# however it ends; `mount | grep lts-` must be empty afterwards.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITE=${LTS_SUITE:-sid}
MIRROR=${LTS_MIRROR:-http://deb.debian.org/debian}
MODE=${LTS_MODE:-make}
TARGET=${LTS_TARGET:-test}
TREE=${LTS_TREE:-worktree}
SHARED=${LTS_SHARED:-$(dirname "$REPO")/shared}
MIN_FREE_GB=${LTS_MIN_FREE_GB:-20}
ROOT=$REPO/build/lts-$SUITE           # the chroot
STAMPS=$ROOT/.lts                     # stamp files: what is done already
STAGE=$REPO/build/lts-stage-$SUITE    # the working-tree snapshot synced into the chroot
# sid keeps build/lts.log; another suite gets its own, so two suites can run side by side.
if [ "$SUITE" = sid ]; then LOG=${LTS_LOG:-$REPO/build/lts.log}; else LOG=${LTS_LOG:-$REPO/build/lts-$SUITE.log}; fi
# Debian packages inside the chroot: the Makefile's APT_PACKAGES plus what the tests and the
# Makefile call (make, git), pip/venv and xauth for xvfb-run.
PACKAGES=(qgis python3-qgis gdal-bin python3-gdal python3-matplotlib python3-sklearn python3-venv
          python3-pip xvfb make git imagemagick xauth ca-certificates)
# What pytest mode installs into the venv (requirements-dev.txt without -c constraints.txt;
# no ruff/mypy since it does not lint).
PIP_PACKAGES=(torch==2.13.0 pytest==8.3.5 pytest-qgis==2.1.0 pytest-timeout==2.4.0)

case "$MODE" in make | pytest) ;; *) echo "LTS_MODE must be make or pytest, not $MODE" >&2; exit 2 ;; esac
case "$TARGET" in *[!A-Za-z0-9_-]*) echo "LTS_TARGET must be a make target name, not $TARGET" >&2; exit 2 ;; esac
case "$TREE" in worktree | head) ;; *) echo "LTS_TREE must be worktree or head, not $TREE" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run_lts.sh needs root (debootstrap, mount, chroot)" >&2; exit 2; }
[ -d "$SHARED" ] || { echo "No $SHARED: the tests need ../shared/data" >&2; exit 2; }

mkdir -p "$REPO/build"
# Everything from here on also goes to build/lts.log (overwritten by each run).
exec > >(tee "$LOG") 2>&1
START=$(date +%s)
step() { printf '\n==> [%4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
gb_free() { df -P --block-size=1G "$REPO/build" | awk 'NR == 2 {print $4}'; }

step "run_lts.sh: suite=$SUITE mode=$MODE target=$TARGET tree=$TREE chroot=$ROOT"
df -h "$REPO/build" | sed 's/^/    /'
if [ "$(gb_free)" -lt "$MIN_FREE_GB" ] && [ ! -e "$STAMPS/venv-warm" ]; then
    echo "Only $(gb_free) GB free under build/, need $MIN_FREE_GB GB (LTS_MIN_FREE_GB)." >&2
    exit 1
fi

# --- mounts and their clean-up --------------------------------------------------------------
MOUNTED=()          # mount points made by this run, unmounted in reverse order on exit
is_mounted() { grep -qs " $(realpath -m "$1") " /proc/mounts; }
mnt() {             # mnt <mount point> <mount args...>: mount once, remember it
    local target=$1; shift
    mkdir -p "$target"
    if is_mounted "$target"; then echo "    already mounted: $target"; return; fi
    mount "$@" "$target"
    MOUNTED+=("$target")
}
cleanup() {
    local rc=$? i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" ||
            echo "WARNING: could not unmount ${MOUNTED[i]}" >&2
    done
    if grep -qs " $ROOT/" /proc/mounts; then
        echo "WARNING: still mounted under $ROOT:" >&2; grep " $ROOT/" /proc/mounts >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # exit through the EXIT trap

# --- (a) debootstrap on the host ------------------------------------------------------------
for tool in debootstrap rsync; do
    if ! command -v "$tool" >/dev/null; then
        step "installing $tool on the host"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool"
    fi
done

# --- (b) the chroot, once -------------------------------------------------------------------
if [ ! -e "$STAMPS/debootstrap" ]; then
    if [ -e "$ROOT" ]; then
        # A half-made chroot from an interrupted run: start over, but never through a mount.
        if grep -qs " $ROOT/" /proc/mounts; then
            echo "Refusing to remove $ROOT: something is mounted under it." >&2; exit 1
        fi
        step "removing the incomplete $ROOT"
        rm -rf --one-file-system "$ROOT"
    fi
    step "debootstrap --variant=minbase $SUITE (a few minutes)"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR"
    mkdir -p "$STAMPS" && touch "$STAMPS/debootstrap"
else
    step "chroot exists ($STAMPS/debootstrap)"
fi

# --- (c) /proc, /sys, /dev, /dev/pts, /dev/shm; (e) /work/shared read-only -------------------
step "mounting /proc /sys /dev /dev/pts /dev/shm and $SHARED (read-only)"
mnt "$ROOT/proc" -t proc proc
mnt "$ROOT/sys" --bind /sys
mnt "$ROOT/dev" --bind /dev
mnt "$ROOT/dev/pts" --bind /dev/pts
mnt "$ROOT/dev/shm" -t tmpfs -o mode=1777 tmpfs       # torch / Qt shared memory
mnt "$ROOT/work/shared" --bind "$SHARED"
mount -o remount,bind,ro "$ROOT/work/shared"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"          # DNS for apt and pip
# sid's Release file is valid for a week only; a mirror snapshot or caching proxy older than
# that makes apt refuse it ("Release file ... is expired"). The chroot is a throw-away test
# bed, so apt accepts an expired one (the signatures are still checked).
echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99lts-valid-until"
# pip and git in the chroot trust what the host trusts: where HTTPS goes through a
# TLS-inspecting proxy, its CA is only in the host's bundle (pip then fails with
# CERTIFICATE_VERIFY_FAILED: self-signed certificate in certificate chain).
HOST_CA=${LTS_CA_BUNDLE:-${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}
CA_ENV=()
if [ -f "$HOST_CA" ]; then
    mkdir -p "$ROOT/etc/ssl" && cp -L "$HOST_CA" "$ROOT/etc/ssl/lts-host-ca.crt"
    for v in PIP_CERT SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
        CA_ENV+=("$v=/etc/ssl/lts-host-ca.crt")
    done
fi
# No service starts from package scripts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"

# Run a bash script inside the chroot with a clean environment (nothing from the host's).
in_chroot() {
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive PYTEST_ADDOPTS="${LTS_PYTEST_ARGS:-}" \
        LTS_MARK="${LTS_MARK-not slow}" LTS_TESTS="${LTS_TESTS:-tests}" \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "${CA_ENV[@]}" /bin/bash -euo pipefail -c "$1"
}

# --- (d) QGIS and friends, once (again when the package list changes) ------------------------
want=$(printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$STAMPS/packages" 2>/dev/null)" != "$want" ]; then
    step "apt-get install in the chroot: ${PACKAGES[*]}"
    in_chroot "apt-get update -qq && apt-get install -y -q --no-install-recommends ${PACKAGES[*]}"
    in_chroot "apt-get clean"
    echo "$want" >"$STAMPS/packages"
elif [ "${LTS_UPGRADE:-0}" = 1 ]; then
    step "apt-get dist-upgrade in the chroot"
    in_chroot "apt-get update -qq && apt-get dist-upgrade -y -q && apt-get clean"
else
    step "chroot packages installed ($STAMPS/packages)"
fi
du -sh --one-file-system "$ROOT" | sed 's/^/    chroot size: /'

# --- (e) the working tree into /work/main ----------------------------------------------------
# Tracked files as they are now (edits included, deletions left out) plus untracked files
# .gitignore does not ignore: the set `make package` and tests/qgis/test_package.py see. .git is
# copied too (the tests call git). rsync --delete removes what is gone from the tree but keeps
# the chroot's own .venv and build/ (venv, plugin link), so the second run reuses them.
step "syncing the $TREE tree into $ROOT/work/main"
rm -rf "$STAGE" && mkdir -p "$STAGE"
if [ "$TREE" = head ]; then
    # The last commit only (others' uncommitted work left out), through a throw-away index:
    # the host's index and files are not touched. (git archive would drop export-ignore paths.)
    tmp_index=$(mktemp)
    GIT_INDEX_FILE=$tmp_index git -C "$REPO" read-tree HEAD
    GIT_INDEX_FILE=$tmp_index git -C "$REPO" checkout-index -a --prefix="$STAGE/"
    rm -f "$tmp_index"
else
    (
        cd "$REPO"
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi   # not deleted ones
            done |
            tar --null -T - -cf - | tar -xf - -C "$STAGE"
    )
fi
mkdir -p "$ROOT/work/main"
rsync -a --delete --exclude=/.venv --exclude=/build --exclude=/.git "$STAGE/" "$ROOT/work/main/"
rsync -a --delete "$REPO/.git/" "$ROOT/work/main/.git/"
rm -rf "$STAGE"
in_chroot "git config --global --get-all safe.directory | grep -qx /work/main ||
           git config --global --add safe.directory /work/main"
# The copied .git/index holds the host's inode and ctime of every file, so git sees every file
# as possibly changed until the index is refreshed; until then `git stash create` (make
# package, tests/qgis/test_package.py) exits 1 without a word. Refresh it once here.
# With LTS_TREE=head the chroot's index is reset to HEAD too (the host's may have staged work).
if [ "$TREE" = head ]; then in_chroot "cd /work/main && git reset -q"; fi
in_chroot "cd /work/main && git update-index -q --refresh >/dev/null || true"

# --- (f) the tests ---------------------------------------------------------------------------
set +e
if [ "$MODE" = make ]; then
    step "make $TARGET in the chroot (PYTEST_ADDOPTS='${LTS_PYTEST_ARGS:-}')"
    in_chroot "cd /work/main && make $TARGET"
    rc=$?
else
    step "pytest in the chroot (venv made here, no constraints.txt)"
    # The same exports as the Makefile, then the Makefile's link and the venv without -c.
    in_chroot "
        cd /work/main
        export PYTHONPATH=\$PWD/build/plugins QGIS_PLUGINPATH=\$PWD/build/plugins
        export QT_QPA_PLATFORM=offscreen PYTHONDONTWRITEBYTECODE=1
        mkdir -p build/plugins && ln -sfn \$PWD build/plugins/landcover_mlp
        [ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
        if [ ! -e .venv/.lts-pip-ok ]; then
            .venv/bin/pip install ${PIP_PACKAGES[*]}
            touch .venv/.lts-pip-ok
        fi
        .venv/bin/python -m pytest -q -m \"\$LTS_MARK\" \$LTS_TESTS"
    rc=$?
fi
set -e
if [ -e "$ROOT/work/main/.venv/.deps-ok" ] || [ -e "$ROOT/work/main/.venv/.lts-pip-ok" ]; then
    touch "$STAMPS/venv-warm"   # the big download is done: no free-disk check any more
fi

# --- what it ran on ---------------------------------------------------------------------------
step "versions"
in_chroot '
    cd /work/main
    py=/usr/bin/python3; [ -x .venv/bin/python ] && py=.venv/bin/python
    echo "debian:      $(cat /etc/debian_version)"
    echo "qgis deb:    $(dpkg-query -W -f="\${Version}" qgis)"
    QT_QPA_PLATFORM=offscreen $py - <<"EOF" 2>&1 | grep -v "^Warning\|^QStandardPaths"
import platform
def show(name, get):
    try:
        value = get()
    except Exception as e:  # noqa: BLE001
        value = f"unavailable ({type(e).__name__}: {e})"
    print((name + ":").ljust(12), value)
show("python", platform.python_version)
show("numpy", lambda: __import__("numpy").__version__)
show("gdal", lambda: __import__("osgeo.gdal").gdal.__version__)
show("torch", lambda: __import__("torch").__version__)
show("qgis", lambda: __import__("qgis.core").core.Qgis.QGIS_VERSION)
show("qt", lambda: __import__("qgis.PyQt.QtCore").PyQt.QtCore.QT_VERSION_STR)
show("pyqt", lambda: __import__("qgis.PyQt.QtCore").PyQt.QtCore.PYQT_VERSION_STR)
EOF' || true
du -sh --one-file-system "$ROOT" | sed 's/^/    build\/lts-'"$SUITE"': /'
du -sh "$ROOT/work/main/.venv" "$ROOT/root/.cache/pip" 2>/dev/null | sed 's/^/    /' || true
df -h "$REPO/build" | sed 's/^/    /'
step "done: rc=$rc mode=$MODE target=$TARGET wall=$(($(date +%s) - START))s log=$LOG"
exit "$rc"
