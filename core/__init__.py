"""Land Cover MLP core: headless land-cover classification with a multilayer perceptron.

Pure Python over numpy, GDAL/OGR and (imported lazily) PyTorch; never imports QGIS or Qt.
The main entry points:

- :func:`landcover_mlp.core.workflow.train_model` - sample, split, train, assess;
- :func:`landcover_mlp.core.prediction.classify_raster` - classify a raster block by block;
- :func:`landcover_mlp.core.evaluation.evaluate` - accuracy of any class raster;
- :mod:`landcover_mlp.core.model_io` - the model file;
- ``python -m landcover_mlp.core`` - the same from a terminal.
"""

from .errors import CancelledError, LandCoverError

__all__ = ["CancelledError", "LandCoverError"]
