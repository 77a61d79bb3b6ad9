"""Processing parameters built from the settings table (core/settings.py), and read back.

Every setting becomes one parameter named :attr:`Setting.parameter` (``LEARNING_RATE``) with
the table's label, default, range and help (unit included); settings marked advanced go under
*Advanced parameters*. A choice is an enum parameter whose options are the table's labels.
"""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QCoreApplication

from ...core.settings import Setting
from .. import compat


def tr(text: str) -> str:
    """Translate in the plugin's context."""
    return QCoreApplication.translate("LandCoverMLP", text)


def label_of(setting: Setting) -> str:
    """The parameter's label: the table's label with the unit or what 0 means."""
    named = setting.unit in ("epochs", "minutes", "pixels", "MB")
    extra = [setting.unit] if named and setting.unit != setting.label.lower() else []  # "Epochs"
    if setting.zero_means:
        extra.append(f"0 = {setting.zero_means}")
    return tr(setting.label) + (f" ({', '.join(extra)})" if extra else "")


def parameter_for(
    setting: Setting, advanced: bool | None = None
) -> QgsProcessingParameterDefinition:
    """The Processing parameter of one setting, with its help text and advanced flag.

    ``advanced`` overrides the table's, for an algorithm where the setting is a main input.
    """
    name, label = setting.parameter, label_of(setting)
    param: QgsProcessingParameterDefinition
    if setting.kind in ("int", "float"):
        kind = compat.NUMBER_INTEGER if setting.kind == "int" else compat.NUMBER_DOUBLE
        param = QgsProcessingParameterNumber(name, label, kind, setting.default, False)
        if setting.minimum is not None:
            param.setMinimum(setting.minimum)
        if setting.maximum is not None:
            param.setMaximum(setting.maximum)
        if setting.kind == "float" and setting.decimals is not None:  # not "10.000000"
            param.setMetadata({"widget_wrapper": {"decimals": setting.decimals}})
    elif setting.kind == "bool":
        param = QgsProcessingParameterBoolean(name, label, setting.default)
    elif setting.kind == "choice":
        param = QgsProcessingParameterEnum(
            name, label, [tr(t) for t in setting.labels],
            defaultValue=setting.choices.index(setting.default),
        )  # fmt: skip
    else:
        optional = setting.default == ""
        param = QgsProcessingParameterString(name, label, setting.default, optional=optional)
    param.setHelp(tr(setting.describe()))
    if setting.advanced if advanced is None else advanced:
        param.setFlags(param.flags() | compat.PARAMETER_ADVANCED)
    return param


def add_settings(alg: QgsProcessingAlgorithm, table: tuple[Setting, ...]) -> None:
    """Add one parameter per setting of ``table`` to ``alg``, in the table's order."""
    for setting in table:
        alg.addParameter(parameter_for(setting))


def read_settings(
    alg: QgsProcessingAlgorithm,
    parameters: dict[str, Any],
    context: QgsProcessingContext,
    table: tuple[Setting, ...],
) -> dict[str, Any]:
    """The values of ``table``'s settings, by setting name (choices as their values)."""
    values: dict[str, Any] = {}
    for s in table:
        name = s.parameter
        if s.kind == "int":
            values[s.name] = alg.parameterAsInt(parameters, name, context)
        elif s.kind == "float":
            values[s.name] = alg.parameterAsDouble(parameters, name, context)
        elif s.kind == "bool":
            values[s.name] = alg.parameterAsBool(parameters, name, context)
        elif s.kind == "choice":
            values[s.name] = s.choices[alg.parameterAsEnum(parameters, name, context)]
        else:
            values[s.name] = alg.parameterAsString(parameters, name, context) or ""
    return values
