"""The bottom layer: what every other part of rankiqa may use, and that imports none of them.

* :mod:`~rankiqa.core.errors`: :class:`UserError`, the one exception for user mistakes;
* :mod:`~rankiqa.core.files`: atomic writes (temporary file, then rename);
* :mod:`~rankiqa.core.imageio`: image decoding to uint8 RGB and image discovery;
* :mod:`~rankiqa.core.seeding`: seeds derived from ``(seed, *keys)``;
* :mod:`~rankiqa.core.devices`: ``--device`` names to :class:`torch.device`;
* :mod:`~rankiqa.core.preprocess`: the test-time input protocol (resize, crops, views);
* :mod:`~rankiqa.core.model_file`: the ``.safetensors`` model file format;
* :mod:`~rankiqa.core.checkpoint`: the training checkpoint file format;
* :mod:`~rankiqa.core.version`: the package version.

Import the submodules directly; this package imports nothing (``import rankiqa`` stays cheap).
"""
