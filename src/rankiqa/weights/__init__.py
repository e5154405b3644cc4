"""Packaged model files (``default.safetensors`` is the model used when none is named)."""
