"""The output-commit rule: a stage's files appear together or not at all, stale parts go."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landcover_mlp.core import CancelledError, LandCoverError, fileio
from landcover_mlp.core import outputs as outputs_mod
from landcover_mlp.core import prediction as prediction_mod
from landcover_mlp.core.accuracy import assess
from landcover_mlp.core.callbacks import Hooks
from landcover_mlp.core.config import PredictionConfig
from landcover_mlp.core.fileio import (
    OutputStage,
    atomic_path,
    process_alive,
    remove_stale_parts,
)
from landcover_mlp.core.outputs import save_training_outputs
from landcover_mlp.core.prediction import classify_raster
from landcover_mlp.core.workflow import TrainResult

CPU = PredictionConfig(memory_mb=16, chunk_pixels=64, device="cpu")


def _files(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` (hidden ones included) with its text."""
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name or ".old-" in p.name)


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    return child.pid


@pytest.fixture
def old_set(tmp_path: Path) -> dict[str, str]:
    """Three good files from an earlier run."""
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"old {name}")
    return _files(tmp_path)


def test_commit_moves_all_parts_together(tmp_path):
    with OutputStage() as stage:
        for name in ("a.txt", "b.txt", "c.txt"):
            part = stage.part(tmp_path / name)
            assert part.parent == tmp_path
            assert part.name.startswith(f".{Path(name).stem}.part-{os.getpid()}-")
            assert part.suffix == ".txt"
            part.write_text(f"new {name}")
        # all three written, none in place yet
        assert not [n for n in ("a.txt", "b.txt", "c.txt") if (tmp_path / n).exists()]
    assert stage.committed == (tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt")
    assert _files(tmp_path) == {"a.txt": "new a.txt", "b.txt": "new b.txt", "c.txt": "new c.txt"}


def test_error_in_third_file_keeps_old_set(tmp_path, old_set):
    with pytest.raises(LandCoverError, match="disk is full while writing '.*c.txt'"):
        with OutputStage() as stage:
            stage.part(tmp_path / "a.txt").write_text("new")
            stage.part(tmp_path / "b.txt").write_text("new")
            part = stage.part(tmp_path / "c.txt")
            part.write_text("half")
            raise OSError(28, "No space left on device", str(part))
    assert _files(tmp_path) == old_set
    assert stage.committed == ()


def test_gdal_error_names_the_output_concerned(tmp_path):
    with pytest.raises(LandCoverError, match=r"Could not write '.*a\.tif'"):
        with OutputStage() as stage:
            part = stage.part(tmp_path / "a.tif")
            stage.part(tmp_path / "b.tif")
            raise RuntimeError(f"TIFFWriteEncodedTile: {part}: write error")


def test_other_errors_pass_unchanged(tmp_path, old_set):
    with pytest.raises(CancelledError):
        with OutputStage() as stage:
            stage.part(tmp_path / "a.txt").write_text("new")
            raise CancelledError()
    with pytest.raises(ZeroDivisionError):
        with OutputStage() as stage:
            stage.part(tmp_path / "a.txt").write_text("new")
            _ = 1 / 0
    assert _files(tmp_path) == old_set


def test_failed_move_puts_the_old_set_back(tmp_path, old_set, monkeypatch):
    real = os.replace
    moves: list[str] = []

    def third_move_fails(src, dst):
        if ".part-" in Path(src).name:
            moves.append(Path(dst).name)
            if len(moves) == 3:
                raise PermissionError(13, "The file is open in another program", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", third_move_fails)
    with pytest.raises(LandCoverError, match="Could not write '.*c.txt'"):
        with OutputStage() as stage:
            for name in ("a.txt", "b.txt", "c.txt"):
                stage.part(tmp_path / name).write_text("new")
    assert moves == ["a.txt", "b.txt", "c.txt"]
    assert _files(tmp_path) == old_set


def test_an_old_file_that_cannot_be_put_back_is_kept_and_logged(tmp_path, old_set, monkeypatch):
    real = os.replace
    failed: list[tuple[str, str]] = []

    def move(src, dst):
        if Path(dst).name == "c.txt" and ".part-" in Path(src).name:
            raise PermissionError(13, "The file is open in another program", str(dst))
        if Path(dst).name == "a.txt" and ".old-" in Path(src).name:  # putting a.txt back
            failed.append((src, dst))
            raise PermissionError(13, "Access is denied", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", move)
    warnings: list[tuple] = []
    monkeypatch.setattr(fileio.log, "warning", lambda *a: warnings.append(a))
    with pytest.raises(LandCoverError, match="Could not write '.*c.txt'"):
        with OutputStage() as stage:
            for name in ("a.txt", "b.txt", "c.txt"):
                stage.part(tmp_path / name).write_text("new")
    assert len(failed) == 1
    backup, target = failed[0]
    assert warnings == [
        ("Could not put back '%s' (kept as '%s'): %s", Path(target), Path(backup), warnings[0][3])
    ]
    assert "Access is denied" in str(warnings[0][3])
    assert Path(backup).read_text() == "old a.txt"  # kept for a later run to put back
    assert (tmp_path / "b.txt").read_text() == "old b.txt"


def test_committed_stage_stays_after_a_later_error(tmp_path):
    with pytest.raises(LandCoverError, match="second"):
        with OutputStage() as first:
            first.part(tmp_path / "model.bin").write_text("model")
            first.commit()
            with OutputStage() as second:
                second.part(tmp_path / "classes.tif").write_text("half")
                raise LandCoverError("second stage failed")
    assert _files(tmp_path) == {"model.bin": "model"}


def test_sidecars_follow_their_file(tmp_path):
    (tmp_path / "classes.tif.aux.xml").write_text("old statistics")
    (tmp_path / "classes.qml").write_text("old style")
    (tmp_path / "other.tif").write_text("not ours")
    with OutputStage() as stage:
        part = stage.part(tmp_path / "classes.tif")
        conf = stage.part(tmp_path / "confidence.tif")
        part.write_text("raster")
        Path(f"{part}.aux.xml").write_text("new statistics")
        part.with_suffix(".qml").write_text("new style")
        conf.write_text("confidence")
        assert stage.part_of(tmp_path / "classes.tif") == part
    assert _files(tmp_path) == {
        "classes.qml": "new style",
        "classes.tif": "raster",
        "classes.tif.aux.xml": "new statistics",
        "confidence.tif": "confidence",
        "other.tif": "not ours",
    }


def test_old_aux_xml_goes_with_the_raster_it_described(tmp_path):
    (tmp_path / "classes.tif").write_text("old raster")
    (tmp_path / "classes.tif.aux.xml").write_text("old statistics")
    with atomic_path(tmp_path / "classes.tif") as tmp:
        tmp.write_text("new raster")
    assert _files(tmp_path) == {"classes.tif": "new raster"}


def test_aborted_stage_removes_sidecar_parts(tmp_path):
    with pytest.raises(CancelledError):
        with OutputStage() as stage:
            part = stage.part(tmp_path / "classes.tif")
            part.write_text("raster")
            Path(f"{part}.aux.xml").write_text("statistics")
            part.with_suffix(".qml").write_text("style")
            raise CancelledError()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_single_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(LandCoverError, match="disk is full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    assert _files(tmp_path) == {"report.html": "old"}
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert _files(tmp_path) == {"report.html": "new"}


def test_unwritable_or_missing_folder(tmp_path, monkeypatch):
    with pytest.raises(LandCoverError, match="does not exist"):
        with atomic_path(tmp_path / "nope" / "x.txt"):
            pass
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: False)  # root writes anywhere
    with pytest.raises(LandCoverError, match="not writable"):
        OutputStage().part(tmp_path / "x.txt")
    assert list(tmp_path.iterdir()) == []


def test_one_name_twice_refused(tmp_path):
    stage = OutputStage()
    stage.part(tmp_path / "a.txt")
    with pytest.raises(LandCoverError, match="Two outputs"):
        stage.part(tmp_path / "." / "a.txt")
    stage.abort()


def test_missing_part_fails_the_stage(tmp_path, old_set):
    with pytest.raises(LandCoverError, match="b.txt"):
        with OutputStage() as stage:
            stage.part(tmp_path / "a.txt").write_text("new")
            stage.part(tmp_path / "b.txt")  # never written
    assert _files(tmp_path) == old_set


def test_stale_parts_of_a_dead_process_removed(tmp_path, dead_pid):
    mine = os.getpid()
    names = {
        f".classes.part-{dead_pid}-0123abcd.tif": "dead",
        f".classes.part-{dead_pid}-0123abcd.tif.aux.xml": "dead sidecar",
        f".model.part-{dead_pid}-89abcdef": "dead, no suffix",
        f".classes.part-{mine}-fedcba98.tif": "mine, being written",
        ".classes.part-1a2b3c4d.tif": "old-style name without an owner",
        "classes.tif": "good file",
    }
    for name, text in names.items():
        (tmp_path / name).write_text(text)
    removed = remove_stale_parts(tmp_path)
    assert sorted(p.name for p in removed) == sorted(list(names)[:3])
    assert _files(tmp_path) == dict(sorted(list(names.items())[3:]))


def test_backup_of_a_crashed_commit_put_back(tmp_path, dead_pid):
    (tmp_path / f".model.bin.old-{dead_pid}-0123abcd").write_text("good model")
    (tmp_path / "report.html").write_text("new report")
    (tmp_path / f".report.html.old-{dead_pid}-0123abcd").write_text("old report")
    remove_stale_parts(tmp_path)
    assert _files(tmp_path) == {"model.bin": "good model", "report.html": "new report"}


def test_writers_clean_the_folder_they_write_into(tmp_path, dead_pid):
    stale = tmp_path / f".old.part-{dead_pid}-0123abcd.tif"
    stale.write_text("left by a crashed run")
    with atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("x")
    assert _files(tmp_path) == {"x.txt": "x"}


def test_process_alive(dead_pid):
    assert process_alive(os.getpid())
    assert not process_alive(dead_pid)
    assert process_alive(0)  # a process group: cannot tell, so alive
    if os.name != "nt":
        assert process_alive(1)  # init: runs, maybe as another user


class _FakeKernel32:
    """The three kernel32 calls _windows_process_alive makes."""

    def __init__(self, handle: int, exit_code: int = 259, query_ok: bool = True) -> None:
        self.handle, self.exit_code, self.query_ok = handle, exit_code, query_ok
        self.closed: list[int] = []
        self.calls: list[tuple] = []

    def OpenProcess(self, access: int, inherit: int, pid: int) -> int:  # noqa: N802
        self.calls.append(("OpenProcess", access, inherit, pid))
        return self.handle

    def GetExitCodeProcess(self, handle: int, code) -> int:  # noqa: N802
        self.calls.append(("GetExitCodeProcess", handle))
        code.contents.value = self.exit_code
        return int(self.query_ok)

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.closed.append(handle)
        return 1


@pytest.mark.parametrize(
    ("kernel32", "error", "alive"),
    [
        (_FakeKernel32(0), 87, False),  # no such process
        (_FakeKernel32(0), 5, True),  # access denied: it exists
        (_FakeKernel32(7, exit_code=259), 0, True),  # STILL_ACTIVE
        (_FakeKernel32(7, exit_code=0), 0, False),  # ended, handle still held somewhere
        (_FakeKernel32(7, query_ok=False), 0, True),  # cannot tell
    ],
)
def test_windows_process_alive(kernel32, error, alive):
    kernel32.calls.clear()
    kernel32.closed.clear()
    assert fileio._windows_process_alive(1234, kernel32, lambda: error) is alive
    assert kernel32.closed == ([7] if kernel32.handle else [])
    # PROCESS_QUERY_LIMITED_INFORMATION, handle not inherited, the process asked about
    assert kernel32.calls[0] == ("OpenProcess", 0x1000, 0, 1234)
    assert kernel32.calls[1:] == ([("GetExitCodeProcess", 7)] if kernel32.handle else [])


def test_process_alive_on_posix_and_windows(dead_pid, monkeypatch):
    assert process_alive(os.getpid()) is True
    assert process_alive(dead_pid) is False
    assert process_alive(1) is True  # init: another user's (PermissionError or alive)
    assert process_alive(0) is True and process_alive(-5) is True  # process groups: keep
    signals: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        signals.append((pid, sig))
        if pid == 1:
            raise ProcessLookupError  # a positive id, however small, is asked about

    monkeypatch.setattr(os, "kill", kill)
    assert process_alive(1) is False
    assert process_alive(4321) is True
    assert signals == [(1, 0), (4321, 0)]  # signal 0 only asks; any other would be delivered
    asked: list[int] = []
    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setattr(fileio, "_windows_process_alive", lambda pid: asked.append(pid) or False)
    assert process_alive(4321) is False and asked == [4321] and len(signals) == 2


def _usage(free: int):
    return shutil._ntuple_diskusage(1 << 40, (1 << 40) - free, free)


def test_a_full_disk_is_named_however_the_error_says_it(tmp_path, monkeypatch):
    out = tmp_path / "sub" / "x.tif"
    full = f"The disk is full while writing '{out}': free some space or choose another folder."
    asked: list[Path] = []
    free = [1 << 30]
    monkeypatch.setattr(shutil, "disk_usage", lambda p: asked.append(p) or _usage(free[0]))
    assert fileio.describe_os_error(OSError(errno.ENOSPC, "disk"), out) == full  # errno only
    assert fileio.describe_os_error(RuntimeError("No space left on device"), out) == full
    assert asked == []  # both said it: the disk is not asked
    other = RuntimeError(f"TIFFAppendToStrip: {out}: write error")  # libtiff's words only
    assert fileio.describe_os_error(other, out) == (
        f"Could not write '{out}' ({other}); check the folder and free disk space."
    )
    assert asked == [out.parent]  # the output's own file system
    free[0] = (1 << 20) - 1  # under 1 MiB left: that was the cause
    assert fileio.describe_os_error(other, out) == full
    free[0] = 1 << 20
    assert fileio.describe_os_error(other, out).startswith("Could not write")
    free[0] = 0
    asked.clear()
    denied = PermissionError(errno.EACCES, "Permission denied")  # not about space at all
    assert fileio.describe_os_error(denied, out).startswith(f"Could not write '{out}' (")
    assert asked == []


def test_an_error_is_blamed_on_the_output_it_names_else_the_last_staged(tmp_path):
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    with OutputStage() as stage:
        part_a = stage.part(a)
        stage.part(b)
        named = OSError(errno.EIO, "I/O error")
        named.filename = str(part_a)  # named by the exception's filename, not its text
        assert stage._blame(named) == a
        assert stage._blame(RuntimeError("something failed")) == b
        stage.abort()
    empty = OutputStage()
    named = OSError(errno.EIO, "I/O error")
    named.filename = str(tmp_path / "c.tif")
    assert empty._blame(named) == tmp_path / "c.tif"
    assert empty._blame(RuntimeError("something failed")) == Path("the output")


def test_abort_removes_every_part_and_its_sidecars_and_only_them(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    stage = OutputStage()
    gone = tmp_path / "gone"
    gone.mkdir()
    stage.part(gone / "d.tif")  # staged first, its folder vanishes: the others still go
    gone.rmdir()
    parts = [
        stage.part(tmp_path / "a.tif"),
        stage.part(other / "b.tif"),
        stage.part(tmp_path / "c.tif"),
    ]
    for part in parts:
        part.write_text("x")
        Path(f"{part}.aux.xml").write_text("x")
    (tmp_path / "keep.tif").write_text("x")
    warnings: list[tuple] = []
    monkeypatch.setattr(fileio.log, "warning", lambda *a: warnings.append(a))
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == Path(f"{parts[2]}.aux.xml"):
            raise PermissionError(errno.EACCES, "Permission denied")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    stage.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["keep.tif", "other", Path(f"{parts[2]}.aux.xml").name]
    )
    assert list(other.iterdir()) == []
    assert len(warnings) == 1 and warnings[0][0] == "Could not remove '%s': %s"
    assert warnings[0][1] == Path(f"{parts[2]}.aux.xml")
    stage.abort()  # again: what is left stays, no error
    assert stage._state == "aborted"


def test_abort_after_a_commit_undoes_nothing(tmp_path):
    stage = OutputStage()
    stage.part(tmp_path / "a.txt").write_text("new")
    stage.commit()
    stage.abort()
    assert (tmp_path / "a.txt").read_text() == "new"
    assert stage._state == "committed"


def test_windows_process_alive_without_the_api():
    if hasattr(ctypes, "WinDLL"):
        pytest.skip("this is Windows")
    assert fileio._windows_process_alive(1234)  # no kernel32 here: cannot tell


# --------------------------------------------------------------------------------------------
# The stages of the pipeline.


def _trained(scene_model) -> TrainResult:
    y = np.array([0, 0, 1, 1, 2, 2])
    report = assess(y, np.array([0, 1, 1, 1, 2, 2]), scene_model.classes, "test split")
    return TrainResult(scene_model, report, n_train=10, n_validation=6, seconds=1.0)


def _training_paths(folder: Path) -> tuple[Path, Path, Path]:
    return folder / "model.safetensors", folder / "curve.png", folder / "report.html"


def test_training_outputs_are_one_stage(scene_model, tmp_path):
    model, curve, report = _training_paths(tmp_path)
    written: list[Path] = []
    got = save_training_outputs(_trained(scene_model), model, curve, report, written)
    expected = [model, curve, curve.with_suffix(".csv"), report, report.with_suffix(".json")]
    assert got == written == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in expected)


def test_a_run_without_validation_replaces_the_old_report(scene_model, tmp_path):
    """A second run without validation writes its own report JSON: the first run's accuracy
    must not stay beside a model it no longer describes."""
    import json
    from dataclasses import replace

    model, curve, report = _training_paths(tmp_path)
    save_training_outputs(_trained(scene_model), model, curve, report)
    assert json.loads(report.with_suffix(".json").read_text())["overall_accuracy"] is not None
    got = save_training_outputs(replace(_trained(scene_model), report=None, n_validation=0),
                                model, curve, report)  # fmt: skip
    assert report.with_suffix(".json") in got
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["overall_accuracy"] is None and data["n_pixels"] == 0
    assert data["saved_model_saw_reference"] is None
    assert data["details"]["model"] == scene_model.describe_network()
    assert "No validation" in report.read_text()


def test_training_error_in_third_file_keeps_old_outputs(scene_model, tmp_path, monkeypatch):
    model, curve, report = _training_paths(tmp_path)
    save_training_outputs(_trained(scene_model), model, curve, report)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs_mod, "write_history_csv", full_disk)  # the third file
    written: list[Path] = []
    with pytest.raises(LandCoverError, match="disk is full"):
        save_training_outputs(_trained(scene_model), model, curve, report, written)
    assert written == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_training_cancel_leaves_no_file(scene_model, tmp_path, monkeypatch):
    model, curve, report = _training_paths(tmp_path)

    def cancelled(*args, **kwargs):
        raise CancelledError()

    monkeypatch.setattr(outputs_mod, "write_report_json", cancelled)  # the last file
    with pytest.raises(CancelledError):
        save_training_outputs(_trained(scene_model), model, curve, report)
    assert list(tmp_path.iterdir()) == []


def _cancel_after(polls: int) -> Hooks:
    count = {"n": 0}

    def cancelled() -> bool:
        count["n"] += 1
        return count["n"] > polls

    return Hooks(cancelled=cancelled)


def test_classification_cancel_leaves_no_part_and_no_file(scene, scene_model, tmp_path):
    out, conf, prob = tmp_path / "classes.tif", tmp_path / "conf.tif", tmp_path / "prob.tif"
    with pytest.raises(CancelledError):
        classify_raster(scene.raster, scene_model, out, conf, prob, CPU, _cancel_after(1))
    assert list(tmp_path.iterdir()) == []


def test_classification_in_a_caller_stage_with_a_style(scene, scene_model, tmp_path):
    """The plugin's route: classify into its stage, write the .qml beside the part, commit."""
    out, conf = tmp_path / "classes.tif", tmp_path / "conf.tif"
    with OutputStage() as stage:
        result = classify_raster(scene.raster, scene_model, out, conf, config=CPU, stage=stage)
        part = stage.part_of(result.classified)
        assert part.is_file() and Path(f"{part}.aux.xml").is_file()
        part.with_suffix(".qml").write_text("<qgis/>")
        assert not out.exists() and not conf.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "classes.qml", "classes.tif", "classes.tif.aux.xml", "conf.tif",
    ]  # fmt: skip
    assert result.classified == out and result.confidence == conf


def test_classification_cancel_in_a_caller_stage(scene, scene_model, tmp_path):
    out = tmp_path / "classes.tif"
    out.write_text("good old raster")
    with pytest.raises(CancelledError):
        with OutputStage() as stage:
            classify_raster(scene.raster, scene_model, out, config=CPU, stage=stage,
                            hooks=_cancel_after(1))  # fmt: skip
    assert _files(tmp_path) == {"classes.tif": "good old raster"}


def test_classification_error_in_a_caller_stage_is_a_user_error(
    scene, scene_model, tmp_path, monkeypatch
):
    def failing(*args, **kwargs):
        raise RuntimeError("simulated read failure")

    monkeypatch.setattr(prediction_mod, "read_window", failing)
    with OutputStage() as stage:
        with pytest.raises(LandCoverError, match="Could not write .*classes.tif"):
            classify_raster(scene.raster, scene_model, tmp_path / "classes.tif", config=CPU,
                            stage=stage)  # fmt: skip
        stage.abort()
    assert list(tmp_path.iterdir()) == []


def test_datasets_closed_before_parts_removed(scene, scene_model, tmp_path, monkeypatch):
    """Windows cannot remove a file GDAL still holds open: a cancel must close them first."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc/self/fd to see open files")
    real_abort = OutputStage.abort
    open_at_abort: list[str] = []

    def checking_abort(self):
        for fd in fd_dir.iterdir():
            try:
                target = Path(os.readlink(fd))
            except OSError:
                continue
            if target.parent == tmp_path:
                open_at_abort.append(target.name)
        real_abort(self)

    monkeypatch.setattr(OutputStage, "abort", checking_abort)
    out, conf = tmp_path / "classes.tif", tmp_path / "conf.tif"
    with pytest.raises(CancelledError):
        classify_raster(scene.raster, scene_model, out, conf, config=CPU, hooks=_cancel_after(1))
    assert open_at_abort == []
    assert list(tmp_path.iterdir()) == []
