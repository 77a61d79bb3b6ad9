"""Dummy classes for QGIS names that the plugin only references (stand-ins, not QGIS).

A stand-in class answers any *class* attribute with another stand-in class (so that
``Qgis.MessageLevel.Warning`` can be passed around), and can be instantiated with any
arguments; its *instances* have no attributes, so code that really uses a QGIS object fails
loudly. Nothing here touches Qt: Qt enums stay strict.
"""

from __future__ import annotations

from typing import Any


class StandInMeta(type):
    """Metaclass: unknown class attributes are stand-ins named after their path."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = make(f"{cls.__qualname__}.{name}", cls.__module__)
        setattr(cls, name, value)
        return value

    def __repr__(cls) -> str:
        return f"<qgis stand-in {cls.__module__}.{cls.__qualname__}>"


class StandIn(metaclass=StandInMeta):
    """Base of the stand-ins: accepts any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


_cache: dict[str, type] = {}


def make(name: str, module: str = "qgis") -> type:
    """The stand-in class called ``name`` (one per name)."""
    if name not in _cache:
        cls = StandInMeta(name.rsplit(".", 1)[-1], (StandIn,), {"__module__": module})
        cls.__qualname__ = name
        _cache[name] = cls
    return _cache[name]


def module_getattr(module: str) -> Any:
    """A module ``__getattr__`` giving stand-ins for the Qgs*/Qgis names not defined there."""

    def __getattr__(name: str) -> Any:
        if not name.startswith(("Qgs", "Qgis")):
            raise AttributeError(f"module {module!r} stand-in has no attribute {name!r}")
        return make(name, module)

    return __getattr__
