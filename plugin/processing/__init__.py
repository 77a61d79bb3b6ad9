"""Processing provider and algorithms (toolbox, batch mode, model designer, qgis_process)."""
