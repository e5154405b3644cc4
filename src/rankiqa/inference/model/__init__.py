"""The quality model: :class:`IQAModel`, loading and saving, the packaged-model registry,
quality maps with PyTorch (``regions``) and the torch-free map arithmetic (``map_grid``)."""
