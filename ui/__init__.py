"""Dialog, loss plot and their Designer .ui file (loaded at runtime, never compiled)."""
