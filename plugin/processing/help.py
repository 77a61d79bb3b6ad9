"""The algorithms' help, generated from their parameter definitions.

The parameters' labels, ranges and help come from the settings table (core/settings.py), so
no parameter is documented twice.

- :func:`short_help`: the text of the algorithm dialog's help panel (``shortHelpString``): the
  algorithm's summary, then every parameter with its help. QGIS 3.22 shows only this text in
  the panel (a parameter's own help is not shown there).
- :func:`help_url`: the *Help* button's page, an HTML page written into QGIS's settings
  folder at first use (the plugin's folder may be read-only), so it works offline.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessingAlgorithm,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QUrl

from ...core import settings
from .. import compat
from .parameters import tr

README_URL = "https://github.com/landcover-mlp/landcover_mlp#readme"
#: The help pages' folder inside QGIS's settings folder (the active profile's).
HELP_FOLDER = ("landcover_mlp", "help")

log = logging.getLogger(__name__)


def _flags(param: QgsProcessingParameterDefinition) -> list[str]:
    """The words "optional" and "advanced", where they apply."""
    out = []
    if param.flags() & compat.PARAMETER_OPTIONAL:
        out.append(tr("optional"))
    if param.flags() & compat.PARAMETER_ADVANCED:
        out.append(tr("advanced"))
    return out


def _title(param: QgsProcessingParameterDefinition) -> str:
    """The parameter's label with its flags: "Validation polygons (optional)"."""
    flags, label = _flags(param), param.description()
    if not flags:
        return label
    if label.endswith(")"):  # "Dropout (0 = off)" -> "Dropout (0 = off, advanced)"
        return f"{label[:-1]}, {', '.join(flags)})"
    return f"{label} ({', '.join(flags)})"


def short_help(summary: str, alg: QgsProcessingAlgorithm) -> str:
    """The help panel's text: ``summary``, then one line per parameter of ``alg``.

    A parameter's line reads "label (optional, advanced): help". Lines are paragraphs in the
    panel; the text is HTML-escaped (the panel reads it as HTML).

    Args:
        summary: what the algorithm does, translated.
        alg: the algorithm, its parameters added.

    Returns:
        The text for ``shortHelpString``.
    """
    e = html.escape
    lines = [e(summary, quote=False)]
    params = alg.parameterDefinitions()
    if params:
        lines.append(tr("Parameters:"))
        lines.extend(f"{e(_title(p), quote=False)}: {e(p.help(), quote=False)}" for p in params)
    return "\n".join(lines)


def _default(param: QgsProcessingParameterDefinition) -> str:
    value = param.defaultValue()
    if value is None or value == "":
        return ""
    if isinstance(param, QgsProcessingParameterEnum) and isinstance(value, int):
        options = param.options()
        return options[value] if 0 <= value < len(options) else str(value)
    return str(value)


def _allowed(param: QgsProcessingParameterDefinition) -> str:
    if isinstance(param, QgsProcessingParameterEnum):
        return " / ".join(param.options())
    setting = settings.BY_NAME.get(param.name().lower())
    if isinstance(param, QgsProcessingParameterNumber) and setting is not None:
        return setting.range_text()  # "at least 16", not "16 to 1.79769e+308"
    return ""


def help_page(summary: str, alg: QgsProcessingAlgorithm) -> str:
    """The algorithm's help page (HTML): ``summary``, then a table of its parameters and outputs.

    The table gives each parameter's label, name for scripts and qgis_process, type, default,
    allowed values and help.

    Args:
        summary: what the algorithm does, translated.
        alg: the algorithm, its parameters added.

    Returns:
        A self-contained HTML page.
    """
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(_title(p))}</th><td><code>{e(p.name())}</code></td><td>{e(p.type())}</td>"
        f"<td>{e(_default(p))}</td><td>{e(_allowed(p))}</td><td>{e(p.help())}</td></tr>"
        for p in alg.parameterDefinitions()
    )
    outputs = "".join(
        f"<li><code>{e(o.name())}</code>: {e(o.description())}</li>"
        for o in alg.outputDefinitions()
    )
    title = f"{alg.displayName()} ({alg.id()})"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top}} th{{background:#f4f4f4}}
</style></head><body>
<h1>{e(title)}</h1>
<p>{e(summary)}</p>
<h2>{e(tr("Parameters"))}</h2>
<table><tr><th>{e(tr("Parameter"))}</th><th>{e(tr("Name"))}</th><th>{e(tr("Type"))}</th>
<th>{e(tr("Default"))}</th><th>{e(tr("Allowed"))}</th><th>{e(tr("Help"))}</th></tr>{rows}</table>
<h2>{e(tr("Outputs"))}</h2><ul>{outputs}</ul>
<p>{e(tr("More in the README"))}: <a href="{README_URL}">{README_URL}</a></p>
</body></html>
"""


def help_folder() -> Path:
    """Where the help pages are written: ``landcover_mlp/help`` in QGIS's settings folder."""
    return Path(QgsApplication.qgisSettingsDirPath()).joinpath(*HELP_FOLDER)


def help_url(summary: str, alg: QgsProcessingAlgorithm) -> str:
    """A ``file://`` URL of the algorithm's help page (:func:`help_page`).

    The page is written (or rewritten when it changed) into :func:`help_folder` at this call;
    the README's URL when the page cannot be written (the reason is logged).

    Args:
        summary: what the algorithm does, translated.
        alg: the algorithm, its parameters added.

    Returns:
        The URL for ``helpUrl``.
    """
    page = help_page(summary, alg)
    path = help_folder() / f"{alg.name()}.html"
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != page:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page, encoding="utf-8")
    except OSError as exc:
        log.warning("Could not write the help page %s (%s): the Help button opens the README.",
                    path, exc)  # fmt: skip
        return README_URL
    return QUrl.fromLocalFile(str(path)).toString()
