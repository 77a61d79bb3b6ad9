"""Reports: loss curves (PNG, CSV) and the accuracy report (HTML)."""

from __future__ import annotations

import csv
import html
import math
import re
import struct

import numpy as np
import pytest

from landcover_mlp.core.accuracy import assess
from landcover_mlp.core.classes import ClassInfo
from landcover_mlp.core.reports import (
    plot_loss_curves,
    report_html,
    write_history_csv,
    write_report_html,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(n: int, with_val: bool = True) -> list[dict]:
    out = []
    for e in range(1, n + 1):
        rec = {"epoch": e, "train_loss": 1.0 / e}
        if with_val:
            rec.update(val_loss=1.2 / e + 0.01 * e, val_accuracy=min(1.0, 0.5 + 0.05 * e))
        out.append(rec)
    return out


def _png_size(raw: bytes) -> tuple[int, int]:
    assert raw[:8] == PNG_MAGIC
    assert raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("with_val", [True, False])
def test_loss_curve_png(tmp_path, with_val):
    path = plot_loss_curves(_history(25, with_val), tmp_path / "loss.png", best_epoch=7)
    raw = path.read_bytes()
    assert raw[:8] == PNG_MAGIC
    assert raw.rstrip()[-8:-4] == b"IEND"
    assert len(raw) > 10_000  # a real plot, not an empty image
    width, height = _png_size(raw)
    assert width >= 400 and height >= 300
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_loss_curve_png_is_a_plot(tmp_path):
    """Decode the PNG and check that it is not blank: lines of the plot colours are drawn."""
    from matplotlib import image

    path = plot_loss_curves(_history(30), tmp_path / "loss.png")
    pixels = image.imread(str(path))[..., :3]
    assert pixels.std() > 0.05
    blue = np.array([0x1F, 0x77, 0xB4]) / 255  # training loss
    red = np.array([0xD6, 0x27, 0x28]) / 255  # validation loss
    for colour in (blue, red):
        assert (np.abs(pixels - colour).max(axis=-1) < 0.05).sum() > 50


def test_history_csv(tmp_path):
    history = _history(12)
    history[3]["val_loss"] = None  # unknown values are empty cells
    path = write_history_csv(history, tmp_path / "loss.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["epoch", "train_loss", "val_loss", "val_accuracy", "final_train_loss", "lr",
                       "distill_loss", "distill_val_loss", "distill_val_accuracy",
                       "final_distill_loss"]  # fmt: skip
    assert len(rows) == 1 + 12
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 13))
    for rec, row in zip(history, rows[1:]):
        assert float(row[1]) == rec["train_loss"]
    assert rows[4][2] == ""
    assert float(rows[5][2]) == history[4]["val_loss"]
    no_val = write_history_csv(_history(3, with_val=False), tmp_path / "noval.csv")
    rows = list(csv.reader(no_val.open(encoding="utf-8")))
    assert rows[1][2:] == [""] * 8


def _report():
    classes = (
        ClassInfo(1, "forest", "#00aa00"),
        ClassInfo(2, "water <&>", "#0000ff"),
        ClassInfo(3, "urban", "#ff0000"),
    )
    reference = np.array([0] * 7 + [1] * 3 + [2] * 5)
    predicted = np.array([0] * 5 + [2] * 2 + [1] * 3 + [2] * 4 + [0])
    return assess(reference, predicted, classes, method="grouped split", warnings=["mind <this>"])


def test_report_html_contains_the_matrix(tmp_path):
    rep = _report()
    assert rep.confusion_matrix == [[5, 0, 2], [0, 3, 0], [1, 0, 4]]
    page = write_report_html(
        rep, tmp_path / "report.html", details={"epochs": 42}, loss_curve=tmp_path / "loss.png"
    ).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Rows are the reference" in page
    assert "reference \\ predicted" in page
    # the matrix, row by row, in reference order
    for cls, row in zip(("forest", "water &lt;&amp;&gt;", "urban"), rep.confusion_matrix):
        cells = "".join(rf"<td[^>]*>{v}</td>" for v in row)
        pattern = rf"{re.escape(cls)}</th>{cells}<td>{sum(row)}</td>"
        assert re.search(pattern, page), f"row {cls} {row} not found"
    # names are escaped, never raw HTML
    assert "water <&>" not in page and "mind <this>" not in page
    assert html.escape("mind <this>") in page
    assert f"{100 * rep.overall_accuracy:.1f}" in page
    assert f"{rep.kappa:.3f}" in page
    assert "grouped split" in page
    assert 'src="loss.png"' in page  # relative link beside the report
    assert "epochs" in page and "42" in page


def test_report_html_undefined_scores():
    classes = (ClassInfo(1, "a", "#000000"), ClassInfo(2, "b", "#ffffff"))
    rep = assess(np.array([0, 0]), np.array([0, 0]), classes)
    assert math.isnan(rep.per_class[1].recall)
    page = report_html(rep)
    assert "nan" not in page.lower()
    assert "&ndash;" in page
