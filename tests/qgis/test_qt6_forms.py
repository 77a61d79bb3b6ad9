"""Qt 6 / QGIS 4 readiness, checked statically on the running QGIS 3 (see ``qt6_forms.py``), and
the compatibility names of ``plugin/compat.py`` checked against the running QGIS."""

from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import Qgis
from qt6_forms import KEEPS_ITS_CLASS, check_files, check_source, is_enum_member, python_files

from landcover_mlp.plugin import compat

pytestmark = pytest.mark.qgis_tier

# One line per form the check must catch; the value is the form it reports.
BAD = {
    "from PyQt5.QtCore import Qt": "from PyQt5.QtCore import ...",
    "import sip": "import sip",
    "from qgis.PyQt.Qt import Qt as Qt2": "from qgis.PyQt.Qt import ...",
    "role = Qt.UserRole": "Qt.UserRole",
    "mode = QHeaderView.ResizeToContents": "QHeaderView.ResizeToContents",
    "level = Qgis.Warning": "Qgis.Warning",
    "kind = QgsProcessing.TypeVectorPolygon": "QgsProcessing.TypeVectorPolygon",
    "kind = QgsProcessing.SourceType.TypeVectorPolygon": "QgsProcessing.SourceType",
    "flag = QgsTask.CanCancel": "QgsTask.CanCancel",
    "kind = Qgis.ProcessingSourceTypeThatIsNot": "Qgis.ProcessingSourceTypeThatIsNot",
    "loop.exec_()": ".exec_()",
    "alias = QgsTask\nflag = alias.CanCancel": "QgsTask.CanCancel",
    "app = qApp": "qApp",
    "t = QVariant.Int": "QVariant.Int",
    "w = widget.fontMetrics().width('x')": "fontMetrics().width()",
    "combo.activated[str].connect(f)": "activated[str]",
}
HEADER = (
    "from qgis.PyQt.QtCore import Qt, QVariant\n"
    "from qgis.PyQt.QtWidgets import QHeaderView, qApp\n"
    "from qgis.core import Qgis, QgsProcessing, QgsTask\n"
)
GOOD = (
    "from qgis.PyQt.QtCore import Qt\n"
    "from qgis.PyQt.QtWidgets import QHeaderView\n"
    "from qgis.core import Qgis, QgsTask\n"
    "role = Qt.ItemDataRole.UserRole\n"
    "align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter\n"
    "mode = QHeaderView.ResizeMode.ResizeToContents\n"
    "level = Qgis.MessageLevel.Warning\n"
    "flag = QgsTask.Flag.CanCancel\n"
    "loop.exec()\n"
    "width = widget.fontMetrics().horizontalAdvance('x')\n"
    "combo.textActivated.connect(f)\n"
)


def test_the_plugin_has_no_pyqt5_only_forms() -> None:
    files = list(python_files())
    assert len(files) > 50, "the check must see the plugin's files"
    findings = check_files(files)
    assert not findings, "Qt 6 / QGIS 4 would break here:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("line", sorted(BAD))
def test_the_check_catches_each_form(line: str) -> None:
    findings = check_source(HEADER + line + "\n")
    reported = {f.form for f in findings if f.line >= 4 or "import" in line}
    assert BAD[line] in reported, findings


def test_the_check_passes_scoped_forms() -> None:
    assert check_source(GOOD) == []


def test_the_check_names_the_scoped_form() -> None:
    (finding,) = [f for f in check_source(HEADER + "role = Qt.UserRole\n") if f.line == 4]
    assert "Qt.ItemDataRole.UserRole" in finding.advice
    assert finding.col == 7


@pytest.mark.parametrize("key", sorted(compat.MOVED))
def test_compat_names_resolve_on_this_qgis(key: str) -> None:
    moved = compat.MOVED[key]
    value = getattr(compat, key)
    assert is_enum_member(value), f"{key} = {value!r} is not an enum value"
    if moved.since <= Qgis.QGIS_VERSION_INT:
        found = compat.lookup(moved.new)
        assert found is not None, f"QGIS {Qgis.QGIS_VERSION} lacks {moved.new}: fix `since`"
        assert type(found) is type(value) and found == value
    else:
        assert compat.lookup(moved.new) is None, f"{moved.new} exists before {moved.since}"
        found = compat.lookup(moved.old)
        assert type(found) is type(value) and found == value


def test_compat_refuses_a_name_no_qgis_has() -> None:
    with pytest.raises(AttributeError, match="Neither Qgis.NoSuch.Thing nor QgsTask.NoSuch"):
        compat.resolve(compat.Moved("Qgis.NoSuch.Thing", "QgsTask.NoSuch", 0))


@pytest.mark.parametrize("name", sorted(KEEPS_ITS_CLASS))
def test_kept_enums_are_not_aliases(name: str) -> None:
    """An enum QGIS moved to ``Qgis`` stays on its class as an alias of the ``Qgis`` enum: on
    QGIS 3.22 this only proves the name exists; under ``make test-lts`` (QGIS 3.44) it proves the
    enum still belongs to its class."""
    enum_type = compat.lookup(name)
    assert enum_type is not None, f"{name} does not exist on QGIS {Qgis.QGIS_VERSION}"
    aliases = [n for n in dir(Qgis) if getattr(Qgis, n, None) is enum_type]
    assert not aliases, f"{name} is Qgis.{aliases[0]} on QGIS {Qgis.QGIS_VERSION}: use compat.py"


def test_metadata_admits_qgis_3_22_to_4() -> None:
    """QGIS 4 refuses a plugin whose maximum version is below 4 or that does not say it supports
    Qt 6 (``supportsQt6``, read by Qt 6 builds of QGIS)."""
    import configparser

    meta = configparser.ConfigParser()
    meta.read(Path(__file__).resolve().parents[2] / "metadata.txt", encoding="utf-8")
    general = meta["general"]
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["qgisMaximumVersion"] == "4.99"
    assert general.getboolean("supportsQt6") is True
