"""Dialogs: Designer .ui files loaded at runtime and the thin widget classes around them."""
