"""Stand-in ``qgis.utils`` for the PyQt6 check of ``ui/`` (tests/qt6): NOT QGIS.

For import checks only: ``iface`` is None and other ``Qgs*`` names are dummy classes.
"""

from ._standin import module_getattr

iface = None
__getattr__ = module_getattr(__name__)
