"""Static resources of the plugin: icons, default palettes and the sample-scene recipe."""
