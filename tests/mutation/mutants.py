"""Mutation testing with mutmut (``make mutants``; not in CI): how many small deliberate faults
in the named modules the default test suite catches.

mutmut names a mutant by its file's path (``src/`` stripped), and its trampolines record the
module a test imported (``landcover_mlp.core.sampling``): the two meet only when the package
sits at ``src/landcover_mlp``. So the run works in a stage, ``build/mutation``:

- ``src/landcover_mlp/``: the repository's files (``git ls-files``: tracked and untracked not
  ignored), mtimes kept;
- ``pyproject.toml``: mutmut's settings (below); pytest's come from the package's own
  ``pyproject.toml``, the first one above the test files;
- ``mutants/``: mutmut's copy with the mutants, with ``build/plugins/landcover_mlp`` linked to
  the mutated package, so the tests that start ``python -m landcover_mlp.core`` run it too, and
  ``src/shared`` linked to the real data (``../shared/data`` from the repository's root).

Results are kept in ``tests/mutation/cache/`` (committed), one ``.meta`` file per module
(mutmut's exit code per mutant, and a hash per function): a run restores them first, so only
mutants of functions changed since, and those not run yet, are run; ``--budget`` stops a run
after that many minutes, and the next run continues. ``tests/mutation/equivalent.txt`` lists
mutants that no test can kill (same behaviour), each with why; they leave the denominator.

Usage::

    python tests/mutation/mutants.py [--modules core/sampling.py ...] [--budget MINUTES]
    python tests/mutation/mutants.py --report        # kill rates from the cache, no run
    python tests/mutation/mutants.py --survivors core/accuracy.py   # their diffs

The kill rate of a module is killed / (mutants - equivalent - not checked); "no tests" (no
test of the default suite runs the function) counts as survived, a timeout as killed (the
mutant made a test hang), as mutmut does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGE = REPO / "build" / "mutation"
PACKAGE = STAGE / "src" / "landcover_mlp"
MUTATED = STAGE / "mutants" / "src" / "landcover_mlp"
CACHE = Path(__file__).resolve().parent / "cache"
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.txt"

#: The modules the issue names: the core's data path and the Processing algorithms.
MODULES = (
    "core/sampling.py",
    "core/splitting.py",
    "core/training.py",
    "core/selection.py",
    "core/prediction.py",
    "core/accuracy.py",
    "core/evaluation.py",
    "core/fileio.py",
    "core/model_io.py",
    "plugin/processing/base.py",
    "plugin/processing/jobs.py",
    "plugin/processing/train.py",
    "plugin/processing/classify.py",
    "plugin/processing/trainclassify.py",
    "plugin/processing/tune.py",
    "plugin/processing/evaluate.py",
    "plugin/processing/accuracysample.py",
    "plugin/processing/explore.py",
    "plugin/processing/explain.py",
)
#: The tests that may kill a mutant: the default suite (``make test``) without the desktop
#: tier (a real QGIS under Xvfb, 90 s a run), the Qt 6 check (another venv) and the package
#: tests (``git archive`` of a stage that is no git checkout; they build the zip, no mutated
#: module).
TESTS = ("tests",)
DESELECT = (
    "tests/qgis/test_desktop.py",
    "tests/qgis/test_qt6_forms.py",
    "tests/qgis/test_package.py",
)

STATUS = {0: "survived", 1: "killed", 3: "killed", 33: "no tests", 5: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked", -11: "segfault", -9: "segfault"}  # fmt: skip


def mutmut_settings(modules: list[str]) -> str:
    """The stage's pyproject.toml: mutmut's settings only."""
    args = ["-m", "not slow", "-p", "no:cacheprovider", "-q"]
    for path in DESELECT:
        args += ["--ignore", f"src/landcover_mlp/{path}"]
    lines = [
        "[tool.mutmut]",
        'source_paths = ["src/landcover_mlp"]',
        "only_mutate = " + json.dumps([f"src/landcover_mlp/{m}" for m in modules]),
        "pytest_add_cli_args_test_selection = "
        + json.dumps([f"src/landcover_mlp/{t}" for t in TESTS]),
        "pytest_add_cli_args = " + json.dumps(args),
        # torch and QGIS are not fork-safe once used: a fork server imports them afresh
        'process_isolation = "forkserver"',
        'forkserver_warmup = "none"',
        "use_git_change_detection = false",
        "timeout_multiplier = 10.0",
        "timeout_constant = 30.0",
    ]
    return "\n".join(lines) + "\n"


def stage(modules: list[str]) -> None:
    """Copy the repository's files into the stage and restore the cached results."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    PACKAGE.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for name in files:
        source = REPO / name
        if not source.is_file() or name.startswith("tests/mutation/cache/"):
            continue
        target = PACKAGE / name
        wanted.add(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.stat().st_mtime != source.stat().st_mtime:
            shutil.copy2(source, target)
            # mutmut re-mutates a file whose mutants are older than the source: a file
            # restaged after an edit must look newer than its mutants
            now = time.time()
            os.utime(target, (now, now))
    for stale in [p for p in PACKAGE.rglob("*") if p.is_file() and p not in wanted]:
        stale.unlink()
    (STAGE / "pyproject.toml").write_text(mutmut_settings(modules), encoding="utf-8")
    link = MUTATED / "build" / "plugins" / "landcover_mlp"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("..") / "..")
    # the tests find the real data at ../shared/data from the repository's root
    shared = MUTATED.parent / "shared"
    if not shared.is_symlink():
        shared.symlink_to(REPO.parent / "shared")
    for meta in CACHE.glob("**/*.meta"):
        target = MUTATED / meta.relative_to(CACHE)
        if not target.exists():  # the stage's own is as new or newer
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(meta, target)


def save_cache() -> None:
    """Copy each module's results back to tests/mutation/cache/."""
    for meta in MUTATED.glob("**/*.py.meta"):
        rel = meta.relative_to(MUTATED)
        target = CACHE / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(meta.read_text(encoding="utf-8"))
        data["durations_by_key"] = {}  # machine-dependent noise in the diff
        data["estimated_durations_by_key"] = {}
        target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def run(modules: list[str], budget_min: float, names: list[str]) -> int:
    """``mutmut run`` in the stage, stopped (SIGINT: results so far kept) after the budget."""
    stage(modules)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    mutmut = Path(sys.executable).parent / "mutmut"
    proc = subprocess.Popen([str(mutmut), "run", *names], cwd=STAGE, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        proc.wait(timeout=budget_min * 60 if budget_min else None)
    except subprocess.TimeoutExpired:
        print(f"\nBudget of {budget_min:g} min spent: stopping; the next run continues.")
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait()
    save_cache()
    return proc.returncode or 0


def equivalents() -> dict[str, str]:
    """Mutant name -> why it is equivalent (``equivalent.txt``: ``name  # why``)."""
    found = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition("#")
            found[name.strip()] = why.strip()
    return found


def results() -> dict[str, dict[str, int | None]]:
    """Exit code of every cached mutant, by module path (``core/accuracy.py``)."""
    found = {}
    for meta in sorted(CACHE.glob("**/*.py.meta")):
        module = str(meta.relative_to(CACHE))[: -len(".meta")]
        found[module] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return found


def report(modules: list[str]) -> None:
    """The kill rate per module, equivalents out of the denominator."""
    same = equivalents()
    print(f"{'module':36} {'mutants':>7} {'equiv':>5} {'unrun':>5} {'killed':>6} "
          f"{'surv':>5} {'rate':>6}")  # fmt: skip
    total = Counter()
    for module, codes in results().items():
        if module not in modules:
            continue
        status = Counter(
            "equivalent" if name in same else STATUS.get(code, "suspicious")
            for name, code in codes.items()
        )
        killed = status["killed"] + status["timeout"] + status["segfault"]
        survived = status["survived"] + status["no tests"] + status["suspicious"]
        counted = killed + survived
        total.update(mutants=len(codes), equivalent=status["equivalent"],
                     unrun=status["not checked"], killed=killed, survived=survived)  # fmt: skip
        rate = f"{killed / counted:.1%}" if counted else "-"
        print(f"{module:36} {len(codes):7d} {status['equivalent']:5d} "
              f"{status['not checked']:5d} {killed:6d} {survived:5d} {rate:>6}")  # fmt: skip
    counted = total["killed"] + total["survived"]
    rate = f"{total['killed'] / counted:.1%}" if counted else "-"
    print(f"{'all':36} {total['mutants']:7d} {total['equivalent']:5d} {total['unrun']:5d} "
          f"{total['killed']:6d} {total['survived']:5d} {rate:>6}")  # fmt: skip


def survivors(module: str) -> None:
    """Each surviving mutant of ``module`` with its diff (mutmut show)."""
    same = equivalents()
    codes = results().get(module, {})
    mutmut = Path(sys.executable).parent / "mutmut"
    for name, code in sorted(codes.items()):
        if STATUS.get(code) in ("survived", "no tests") and name not in same:
            print(f"## {name} ({STATUS.get(code)})")
            subprocess.run([str(mutmut), "show", name], cwd=STAGE, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES),
                        help="module paths to mutate (default: the named set)")  # fmt: skip
    parser.add_argument("--budget", type=float, default=0.0,
                        help="stop after this many minutes (0: run to the end)")  # fmt: skip
    parser.add_argument("--report", action="store_true", help="kill rates only")
    parser.add_argument("--survivors", metavar="MODULE", help="show a module's survivors")
    parser.add_argument("names", nargs="*", help="mutant names or globs (mutmut run NAMES)")
    a = parser.parse_args()
    if a.survivors:
        survivors(a.survivors)
        return 0
    code = 0 if a.report else run(a.modules, a.budget, a.names)
    report(a.modules)
    return code


if __name__ == "__main__":
    sys.exit(main())
