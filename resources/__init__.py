"""Static resources of the plugin: the icon and the qgis_process demo script."""
