"""The naming table (core/naming.py) and its page (docs/naming.md)."""

from __future__ import annotations

from pathlib import Path

from landcover_mlp.core import naming, settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "naming.md"


def test_side_files_keep_the_full_name() -> None:
    out = naming.training_outputs("runs/survey.v2.safetensors")
    assert out.loss_curve == Path("runs/survey.v2_loss.png")
    assert out.loss_csv == Path("runs/survey.v2_loss.csv")
    assert out.report == Path("runs/survey.v2_report.html")
    assert out.report_json == Path("runs/survey.v2_report.json")
    assert naming.search_outputs("a.b.safetensors").summary_json == Path("a.b_search.json")
    assert naming.classification_outputs("x.y.tif").confidence == Path("x.y_confidence.tif")


def test_suffixes_are_added_not_guessed() -> None:
    assert naming.model_path("model") == Path("model.safetensors")
    assert naming.model_path("model.v2") == Path("model.v2.safetensors")
    assert naming.model_path("m.SAFETENSORS") == Path("m.SAFETENSORS")
    assert naming.raster_path("classes") == Path("classes.tif")
    assert naming.raster_path("classes.tiff") == Path("classes.tiff")


def test_the_doc_holds_the_current_settings_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- settings table")
    table = text[text.index("\n", start) + 1 : text.index("<!-- end of settings table")]
    assert (
        table == settings.markdown_table()
    ), "docs/naming.md is behind core/settings.py: paste markdown_table() into it"


def test_every_setting_has_help_and_a_valid_default() -> None:
    for s in settings.SETTINGS:
        assert s.help.endswith("."), s.name
        assert s.check(s.default) == s.default, s.name
        assert s.kind in settings.KINDS
