"""``Scorer``: what every quality model that scores images offers, whatever runs it.

Two runtimes implement it: :class:`~rankiqa.inference.model.iqa_model.IQAModel` (PyTorch, the
``torch`` extra; also an ``nn.Module``, differentiable) and
:class:`~rankiqa.inference.scoring.onnx_model.OnnxModel` (ONNX Runtime on a packaged model's
shipped graph, no torch). Every consumer — ``rankiqa score``/``map``/``report``, the Python
API, Ray, batch scoring — talks to this interface only; which class it got is decided once,
by :func:`rankiqa.inference.scoring.choice.load_scorer`.

Examples
--------
>>> import numpy as np
>>> from rankiqa.inference.scoring.choice import load_scorer
>>> model: Scorer = load_scorer()  # the packaged default, without torch
>>> image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
>>> 0 <= model.score(image) <= 100, model.quality_map(image).ndim, model.metadata["name"]
(True, 2, 'default')
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from rankiqa.core.imageio import DEFAULT_MAX_PIXELS
from rankiqa.core.protocol import InputProtocol
from rankiqa.inference.model.map_grid import DEFAULT_OVERLAP, QualityMap
from rankiqa.inference.model.rows import ScoredImage

#: what may run a scorer's network: ``auto`` (the faster one available), ``torch``, ``onnx``
RUNTIMES = ("auto", "torch", "onnx")


class Scorer(Protocol):
    """A quality model ready to score: images in, 0-100 scores (higher is better) out.

    ``metadata`` is the model file's metadata (``name``, ``input``, ``score``, ...) and
    ``protocol`` its input protocol (resize, views, normalisation), applied by :meth:`views`.
    """

    metadata: dict[str, Any]
    protocol: InputProtocol

    @property
    def runtime_name(self) -> str:
        """What runs the network: ``"onnxruntime"`` or ``"torch"``."""
        ...

    @property
    def device(self) -> str:
        """Where the network runs (``"cpu"``, ``"cuda:0"``, ...)."""
        ...

    def to(self, device: Any) -> Scorer:
        """The model on ``device`` (ONNX Runtime models run on the CPU only)."""
        ...

    def views(self, image: Any, max_pixels: int | None = None, exact_decode: bool = False) -> Any:
        """The V×3×h×w views of one image (path, PIL image, uint8 array, ...) under
        :attr:`protocol`; decoding a JPEG at reduced scale unless ``exact_decode``."""
        ...

    def score_views(self, views: Sequence[Any]) -> list[float]:
        """Scores of several images given their :meth:`views`: the mean over each one's views."""
        ...

    def score(
        self, x: Any, batch_size: int = 16, exact_decode: bool = False
    ) -> float | list[float]:
        """Score of one image (a float) or of a list of images (a list)."""
        ...

    def quality_map(
        self, image: Any, region: int | None = None, overlap: int | None = None
    ) -> np.ndarray:
        """Local quality of one image: a rows × cols float32 array on the score scale."""
        ...

    def region_map(
        self,
        image: Any,
        region: int | None = None,
        overlap: int = DEFAULT_OVERLAP,
        max_pixels: int | None = None,
        clip: bool = True,
    ) -> QualityMap:
        """:meth:`quality_map` with how it was made (region and stride in original pixels,
        the whole-image score of the same pass)."""
        ...

    def score_files(
        self,
        paths: Sequence[str | os.PathLike],
        batch_size: int = 16,
        workers: int = 2,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        draft: bool = True,
    ) -> Iterator[ScoredImage]:
        """One :class:`ScoredImage` per path, in order; a bad file costs its own row only.
        ``workers`` processes decode (and score, where the runtime allows); 0: this process."""
        ...

    def worker_copy(self, threads: int = 1) -> Scorer:
        """A copy to send to another process (a worker, a Ray actor): it opens its own
        runtime there, with ``threads`` threads."""
        ...
