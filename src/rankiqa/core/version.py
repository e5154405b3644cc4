"""The package version (read by setuptools and written into model files)."""

__version__ = "0.1.0"
