"""A static check for forms that run on QGIS 3 (Qt 5 / PyQt5) but break on QGIS 4 (Qt 6 / PyQt6).

QGIS 4 is not installable here, so the plugin's Qt 6 readiness is checked on the source: every
Python file is parsed and each name imported from ``qgis.*`` is resolved against the running
QGIS and PyQt5, so an attribute chain such as ``Qt.UserRole`` is judged by what it really is
(an enum member reached through its class, which PyQt6 removed), not by a list of names. The
forms come from what QGIS's own migration script rewrites or warns about
(``scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py`` in the QGIS repository) plus the QGIS-API enums
that moved to the ``Qgis`` namespace in 3.30 - 3.42:

* Qt or QGIS imported other than through ``qgis.PyQt`` / ``qgis.core`` / ``qgis.gui``
  (``PyQt5.QtCore``, bare ``sip``, ``qgis.PyQt.Qt``);
* unscoped enum members (``Qt.UserRole``, ``QHeaderView.ResizeToContents``, ``Qgis.Warning``):
  the scoped form (``Qt.ItemDataRole.UserRole``) works on PyQt5 >= 5.11 and on PyQt6;
* an enum of a ``Qgs*`` class that is not known to stay on that class in QGIS 4
  (``QgsProcessing.SourceType``, moved to ``Qgis.ProcessingSourceType`` in 3.36): such names
  go through ``plugin/compat.py``, which takes the new name when the running QGIS has it;
* an attribute of a Qt or QGIS class that this QGIS does not have (a name of a newer QGIS
  used directly instead of through ``plugin/compat.py``);
* ``exec_()``, ``qApp``, ``QRegExp``, ``QDesktopWidget``, ``QVariant`` type constants
  (``QVariant.Int``: ``QMetaType.Type`` in Qt 6), ``fontMetrics().width()`` and
  ``activated[str]``.

Run ``python tests/qgis/qt6_forms.py [FILES...]`` to list the findings, one per line.
"""

from __future__ import annotations

import ast
import enum
import importlib
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: The folders whose Python files the plugin ships or tests with.
CHECKED = ("__init__.py", "core", "plugin", "ui", "resources", "tests", "benchmarks")

#: ``Qgs*`` enums that keep their class in QGIS 4: their scoped form
#: (``QgsTask.Flag.CanCancel``) works from 3.22 on. Each entry was checked against QGIS's
#: master headers; ``test_kept_enums_are_not_aliases`` checks on the running QGIS that none
#: of them became an alias of a ``Qgis`` enum (which is how QGIS marks a moved enum).
KEEPS_ITS_CLASS = frozenset(
    {
        "QgsTask.Flag",
        "QgsTask.TaskStatus",
        "QgsVectorFileWriter.WriterError",
        "QgsContrastEnhancement.ContrastEnhancementAlgorithm",
        "QgsFieldProxyModel.Filter",
        "QgsVectorFileWriter.ActionOnExistingFile",
        "QgsFileWidget.StorageMode",
    }
)

#: Names PyQt6 removed, with the replacement that also works on PyQt5.
REMOVED_NAMES = {
    "qApp": "use QApplication.instance()",
    "QRegExp": "QRegExp is gone in Qt 6: use QRegularExpression",
    "QDesktopWidget": "QDesktopWidget is gone in Qt 6: use QScreen (QGuiApplication.screens())",
}

_MISSING = object()
_MOVED_ADVICE = (
    "an enum of a Qgs class that moved to Qgis.* in QGIS 3.30 - 3.42 (or is not known to stay "
    "on its class): take the value from plugin/compat.py"
)


@dataclass(frozen=True)
class Finding:
    """One PyQt5-only or QGIS-3-only form at a place in a file."""

    path: str
    line: int
    col: int
    form: str
    advice: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.form}: {self.advice}"


def is_enum_type(obj: Any) -> bool:
    """True for a sip enum type (PyQt5, QGIS 3) or a Python ``enum.Enum`` (PyQt6, QGIS 4)."""
    if not isinstance(obj, type):
        return False
    return type(obj).__name__ == "enumtype" or issubclass(obj, enum.Enum)


def is_enum_member(obj: Any) -> bool:
    """True for a member of an enum type as :func:`is_enum_type` defines it."""
    return is_enum_type(type(obj))


def _qgis_version() -> str:
    try:
        from qgis.core import Qgis

        return str(Qgis.QGIS_VERSION)
    except ImportError:  # pragma: no cover - the check runs in the QGIS tier
        return "?"


class _Checker(ast.NodeVisitor):
    """Collects the findings of one module."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []
        # local name -> (dotted name as written, object)
        self.names: dict[str, tuple[str, Any]] = {}

    def flag(self, node: ast.AST, form: str, advice: str) -> None:
        self.findings.append(
            Finding(
                self.path, getattr(node, "lineno", 0), getattr(node, "col_offset", 0), form, advice
            )
        )

    # -- imports -----------------------------------------------------------------------------

    @staticmethod
    def _foreign_qt(module: str) -> bool:
        top = module.split(".")[0]
        return top in ("PyQt5", "PyQt6", "PySide2", "PySide6", "sip") or module == "qgis.PyQt.Qt"

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802 - ast visitor
        for alias in node.names:
            if self._foreign_qt(alias.name):
                self.flag(
                    node, f"import {alias.name}", "import Qt through qgis.PyQt (qgis.PyQt.sip)"
                )
            elif alias.name == "qgis" or alias.name.startswith("qgis."):
                try:
                    module = importlib.import_module(alias.name)
                except ImportError:
                    self.flag(
                        node, f"import {alias.name}", f"no such module on QGIS {_qgis_version()}"
                    )
                    continue
                if alias.asname:
                    self.names[alias.asname] = (alias.name, module)
                else:
                    self.names["qgis"] = ("qgis", importlib.import_module("qgis"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802 - ast visitor
        module_name = node.module or ""
        if node.level or not module_name:
            return
        if self._foreign_qt(module_name):
            self.flag(
                node, f"from {module_name} import ...", "import Qt through qgis.PyQt.QtCore etc."
            )
            return
        if not (module_name == "qgis" or module_name.startswith("qgis.")):
            return
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            self.flag(node, f"from {module_name}", f"no such module on QGIS {_qgis_version()}")
            return
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"from {module_name} import *", "import the names you use")
                continue
            local = alias.asname or alias.name
            if alias.name in REMOVED_NAMES:
                self.flag(node, f"import of {alias.name}", REMOVED_NAMES[alias.name])
            obj = getattr(module, alias.name, _MISSING)
            if obj is _MISSING:
                try:
                    obj = importlib.import_module(f"{module_name}.{alias.name}")
                except ImportError:
                    self.flag(
                        node,
                        f"from {module_name} import {alias.name}",
                        f"not in QGIS {_qgis_version()}: route it through plugin/compat.py",
                    )
                    continue
            self.names[local] = (alias.name, obj)

    # -- names and attributes ----------------------------------------------------------------

    def _resolve(self, node: ast.expr) -> tuple[str, Any] | None:
        """The dotted text and object of a chain of attributes on an imported Qt/QGIS name."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            if base is None:
                return None
            obj = getattr(base[1], node.attr, _MISSING)
            if obj is _MISSING:
                return None
            return f"{base[0]}.{node.attr}", obj
        return None

    def visit_Assign(self, node: ast.Assign) -> None:  # noqa: N802 - ast visitor
        # An alias (``number = QgsProcessingParameterNumber``) is followed like the name.
        self.generic_visit(node)
        target = node.targets[0] if len(node.targets) == 1 else None
        resolved = self._resolve(node.value)
        if isinstance(target, ast.Name) and resolved is not None and isinstance(resolved[1], type):
            self.names[target.id] = resolved

    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802 - ast visitor
        if node.id in REMOVED_NAMES and node.id in self.names:
            self.flag(node, node.id, REMOVED_NAMES[node.id])

    def visit_Attribute(self, node: ast.Attribute) -> None:  # noqa: N802 - ast visitor
        if node.attr == "exec_":
            self.flag(node, ".exec_()", "use .exec() (PyQt5 has both; PyQt6 only exec)")
        base = self._resolve(node.value)
        if base is not None:
            self._check_member(node, *base)
        elif (
            node.attr == "width"
            and isinstance(node.value, ast.Call)
            and (
                (
                    isinstance(node.value.func, ast.Attribute)
                    and node.value.func.attr == "fontMetrics"
                )
                or (isinstance(node.value.func, ast.Name) and node.value.func.id == "QFontMetrics")
            )
        ):
            self.flag(node, "fontMetrics().width()", "use horizontalAdvance() (Qt >= 5.11)")
        self.generic_visit(node)

    def _check_member(self, node: ast.Attribute, dotted: str, owner: Any) -> None:
        text = f"{dotted}.{node.attr}"
        if dotted.split(".")[-1] == "QVariant" and not node.attr.startswith("_"):
            self.flag(
                node, text, "QVariant type constants are QMetaType.Type in Qt 6: use QMetaType"
            )
            return
        value = getattr(owner, node.attr, _MISSING)
        if value is _MISSING and isinstance(owner, (type, types.ModuleType)):
            self.flag(
                node,
                text,
                f"not in QGIS {_qgis_version()}: a name of a newer QGIS goes through "
                "plugin/compat.py (new name, fallback to the old one)",
            )
            return
        if value is _MISSING:
            return
        if is_enum_member(value) and not is_enum_type(owner):
            enum_name = f"{dotted.split('.')[-1]}.{type(value).__name__}"
            if self._is_qgs_class_chain(dotted) and enum_name not in KEEPS_ITS_CLASS:
                self.flag(node, text, f"unscoped enum of {enum_name}: {_MOVED_ADVICE}")
            else:
                scoped = f"{dotted}.{type(value).__name__}.{node.attr}"
                self.flag(node, text, f"unscoped enum: write {scoped}")
            return
        if is_enum_type(value) and self._is_qgs_class_chain(dotted):
            enum_name = f"{dotted.split('.')[-1]}.{node.attr}"
            if enum_name not in KEEPS_ITS_CLASS:
                self.flag(node, text, _MOVED_ADVICE)

    @staticmethod
    def _is_qgs_class_chain(dotted: str) -> bool:
        last = dotted.split(".")[-1]
        return last.startswith("Qgs")

    def visit_Subscript(self, node: ast.Subscript) -> None:  # noqa: N802 - ast visitor
        if (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "activated"
            and isinstance(node.slice, ast.Name)
            and node.slice.id == "str"
        ):
            self.flag(node, "activated[str]", "use textActivated (Qt >= 5.14)")
        self.generic_visit(node)


def check_source(source: str, path: str = "<string>") -> list[Finding]:
    """The findings of one module's source text.

    Args:
        source: Python source.
        path: the name findings carry.

    Returns:
        The findings in source order (empty when the module is Qt 6 ready).

    Raises:
        SyntaxError: when the source does not parse.
    """
    tree = ast.parse(source, filename=path)
    checker = _Checker(path)
    # Imports first, wherever they are (they bind the names); their findings are made again
    # by the full pass, and the set below keeps one of each.
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            checker.visit(node)
    checker.visit(tree)
    return sorted(set(checker.findings), key=lambda f: (f.line, f.col, f.form))


def python_files(root: Path = REPO) -> Iterator[Path]:
    """The Python files of the plugin, its tests and benchmarks, ``build/`` and venvs excluded."""
    for entry in CHECKED:
        path = root / entry
        if path.is_file():
            yield path
        elif path.is_dir():
            # tests/qt6 runs under PyQt6 itself (its shim imports PyQt6 on purpose).
            yield from sorted(p for p in path.rglob("*.py") if "qt6" not in p.parts)


def check_files(paths: Iterable[Path], root: Path = REPO) -> list[Finding]:
    """The findings of several files, paths shown relative to ``root``."""
    findings: list[Finding] = []
    for path in paths:
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        findings.extend(check_source(path.read_text(encoding="utf-8"), shown))
    return findings


if __name__ == "__main__":
    files = [Path(a).resolve() for a in sys.argv[1:]] or list(python_files())
    found = check_files(files)
    for finding in found:
        print(finding)
    sys.exit(1 if found else 0)
