"""QGIS glue: plugin class, Processing provider and algorithms, background tasks, styling."""
