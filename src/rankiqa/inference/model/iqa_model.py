"""``IQAModel``: a quality network plus its metadata (input protocol, score scale)."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, naming
from rankiqa.core.model_file import scale_scores
from rankiqa.core.preprocess import image_views
from rankiqa.core.protocol import InputProtocol, decode_size_hint
from rankiqa.inference.model.images import ImageLike, as_chw, device_of
from rankiqa.inference.model.map_grid import DEFAULT_OVERLAP, QualityMap
from rankiqa.inference.model.rows import ScoredImage
from rankiqa.models import QualityNet


class IQAModel(nn.Module):
    """A no-reference quality model run by PyTorch: ``forward`` is differentiable, ``score`` is
    the easy API. Implements :class:`~rankiqa.inference.model.scorer.Scorer`.

    ``forward(x)`` maps N×3×H×W float RGB tensors in [0, 1] to N scores
    ``offset + scale * net(x)``, squashed into (0, 100) when the model file says so
    (:func:`rankiqa.core.model_file.scale_scores`; higher = better for fine-tuned
    models). It applies no
    resizing or cropping, so it can serve as a quality term in a training loss.
    ``score(x)`` takes paths, PIL images, uint8 arrays or float tensors, applies the model's
    input protocol (resize, crops, view averaging) and returns plain floats.
    ``with_protocol()`` is ``score``'s numbers as a differentiable module (for a loss);
    ``transforms()`` the protocol alone.
    """

    def __init__(self, net: QualityNet, metadata: dict[str, Any]):
        super().__init__()
        self.net = net
        self.metadata = metadata
        score = metadata.get("score", {})
        self.offset = float(score.get("offset", 0.0))
        self.scale = float(score.get("scale", 1.0))
        self.score_meta = dict(score)
        self.protocol = InputProtocol.from_dict(metadata.get("input", {}))
        #: optional faster scoring engine (see :mod:`rankiqa.inference.scoring.onnx_runtime`)
        self.runtime: Any = None
        #: called with the model when scoring starts, to attach :attr:`runtime` (set by
        #: :func:`rankiqa.load_model`; loading itself never exports or opens a session)
        self.runtime_request: Any = None
        self._runtime_spec: Any = None  # the request once granted (for copies elsewhere)

    @property
    def runtime_name(self) -> str:
        """``"onnxruntime"`` when :meth:`score_views` runs through ONNX Runtime, else ``"torch"``
        (resolves a pending :attr:`runtime_request`)."""
        self.start_runtime()
        return "torch" if self.runtime is None else "onnxruntime"

    def start_runtime(self) -> None:
        """Attach the runtime requested at loading (once; :meth:`score_views` calls it)."""
        request, self.runtime_request = self.runtime_request, None
        if request is not None:
            self._runtime_spec = request
            request(self)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # an ONNX Runtime engine does not travel (its graph may be a cache file of this
        # machine): the copy asks for one again, as this model was asked, when it first scores
        state["runtime"] = None
        state["runtime_request"] = self.runtime_request or self._runtime_spec
        return state

    @property
    def device(self) -> str:
        """Where the network's parameters are (``"cpu"``, ``"cuda:0"``, ...)."""
        return str(device_of(self))

    def worker_copy(self, threads: int = 1) -> IQAModel:
        """A copy for another process (a worker, a Ray actor): the same weights, in eval mode;
        the runtime requested at loading is attached there, with ``threads`` threads."""
        twin = copy.copy(self).eval()
        if twin.runtime_request is not None:
            twin.runtime_request = functools.partial(twin.runtime_request, threads=threads)
        return twin

    @property
    def config(self) -> dict[str, Any]:
        return self.net.config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale_scores(self.net(x), self.score_meta)

    def extra_repr(self) -> str:
        return f"name={self.metadata.get('name')!r}, input={self.protocol.to_dict()}"

    def transforms(self) -> BatchInputTransform:
        """The input protocol (resize, crops) as a differentiable module: N×3×H×W float images
        in [0, 1] -> N×V×3×h×w views, the views ``score`` averages over."""
        return BatchInputTransform(self.protocol)

    def with_protocol(self) -> ProtocolModel:
        """A differentiable module giving ``score``'s numbers: N×3×H×W float images in
        [0, 1] -> N scores, the mean of :meth:`forward` over each image's protocol views.

        Examples
        --------
        >>> from rankiqa.inference.model.loading import untrained_model
        >>> model = untrained_model("shallow", input={"resize": 200, "test_crops": "center"})
        >>> x = torch.rand(1, 3, 240, 320, requires_grad=True)
        >>> scores = model.eval().with_protocol()(x)
        >>> abs(float(scores[0].detach()) - model.score(x[0].detach())) < 1e-4
        True
        >>> scores.sum().backward(); x.grad.shape
        torch.Size([1, 3, 240, 320])
        """
        return ProtocolModel(self)

    # ----------------------------------------------------------------------------- scoring
    def views(
        self, image: ImageLike, max_pixels: int | None = None, exact_decode: bool = False
    ) -> torch.Tensor:
        """The V×3×h×w views of one image under the model's input protocol.

        A JPEG file is decoded at reduced scale (1/2, 1/4, 1/8) when the protocol downsizes it
        anyway, as ``rankiqa score`` does; ``exact_decode=True`` always decodes it in full.
        """
        draft_size = None if exact_decode else decode_size_hint(self.protocol)
        with naming(image):  # a bad file in a list raises naming that file
            return image_views(as_chw(image, max_pixels, draft_size), self.protocol)

    def score_views(self, views: Sequence[torch.Tensor]) -> list[float]:
        """Scores of several images given their views (lists of V×3×h×w tensors).

        Views of the same shape are batched together; an image's score is the mean over its
        views. Runs under ``torch.inference_mode``; the model is put in eval mode.
        """
        self.eval()
        self.start_runtime()
        if not views:
            return []
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, v in enumerate(views):
            groups.setdefault(tuple(v.shape[1:]), []).append(index)
        device = device_of(self)
        results: list[float] = [0.0] * len(views)
        with torch.inference_mode():
            for indices in groups.values():
                batch = torch.cat([views[i] for i in indices])
                if self.runtime is not None:
                    out = self.runtime(batch).float()
                else:
                    batch = batch.to(device).contiguous(memory_format=torch.channels_last)
                    out = self(batch).float().cpu()
                start = 0
                for i in indices:
                    n = views[i].shape[0]
                    results[i] = float(out[start : start + n].mean())
                    start += n
        return results

    def score(
        self, x: ImageLike | Sequence[ImageLike], batch_size: int = 16, exact_decode: bool = False
    ) -> float | list[float]:
        """Quality score(s) of an image or images.

        ``x`` is a path, a PIL image, a uint8 H×W×3 RGB array, a float 3×H×W tensor in [0, 1]
        (one image: returns a float), or a list of those / a float B×3×H×W tensor (returns a
        list of floats). Unreadable files raise :class:`rankiqa.core.imageio.ImageReadError`.
        JPEG files decode as in ``rankiqa score`` (reduced scale where the protocol downsizes
        anyway), so both give the same score; ``exact_decode=True`` is ``--exact-decode``.
        """
        if isinstance(x, torch.Tensor) and x.dim() == 4:
            items: Sequence[ImageLike] = list(x)
            single = False
        elif isinstance(x, (list, tuple)):
            items, single = x, False
        else:
            items, single = [x], True
        scores: list[float] = []
        for start in range(0, len(items), max(1, batch_size)):
            chunk = items[start : start + batch_size]
            views = [self.views(item, exact_decode=exact_decode) for item in chunk]
            scores.extend(self.score_views(views))
        return scores[0] if single else scores

    def score_files(
        self,
        paths: Sequence[str | os.PathLike],
        batch_size: int = 16,
        workers: int = 2,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        draft: bool = True,
    ) -> Iterator[ScoredImage]:
        """One :class:`ScoredImage` per path, in order (DataLoader workers decode; with an
        ONNX Runtime engine attached they score too); see :class:`Scorer.score_files`."""
        from rankiqa.inference.model.torch_batch import iter_torch_scores

        paths = [os.fspath(p) for p in paths]
        return iter_torch_scores(self, paths, batch_size, workers, max_pixels, draft)

    def region_map(
        self,
        image: ImageLike,
        region: int | None = None,
        overlap: int = DEFAULT_OVERLAP,
        max_pixels: int | None = None,
        clip: bool = True,
    ) -> QualityMap:
        """:meth:`quality_map` with how it was made: see
        :func:`rankiqa.inference.model.regions.quality_map`."""
        from rankiqa.inference.model.regions import quality_map

        return quality_map(self, image, region, overlap, max_pixels, clip)

    def quality_map(
        self, image: ImageLike, region: int | None = None, overlap: int | None = None
    ) -> np.ndarray:
        """Local quality of one image: a rows × cols float32 array on the score scale.

        One forward pass over the whole image (resized as for scoring, not cropped); the head is
        applied to overlapping square regions of ``region`` pixels at that resolution (default:
        a third of the shorter side), moving by ``region / overlap`` (default a quarter of a
        region). See :func:`rankiqa.inference.model.regions.quality_map` for the details
        (region size in original pixels, the whole-image score of the same pass).

        Examples
        --------
        >>> from rankiqa.inference.model.loading import untrained_model
        >>> model = untrained_model("shallow", head="stats")
        >>> model.quality_map(np.zeros((240, 320, 3), np.uint8)).ndim
        2
        """
        overlap = DEFAULT_OVERLAP if overlap is None else overlap
        return self.region_map(image, region=region, overlap=overlap).values


class BatchInputTransform(nn.Module):
    """N×3×H×W float images in [0, 1] -> N×V×3×h×w views under an input protocol (resize,
    crops; ``crops:N`` with the same seeded crops as ``score``); differentiable. The batch form
    of :class:`rankiqa.core.preprocess.InputTransform` (one image in, its views out)."""

    def __init__(self, protocol: InputProtocol):
        super().__init__()
        self.protocol = protocol

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise UserError(f"expected N×3×H×W images, got shape {tuple(x.shape)}")
        return torch.stack([image_views(image, self.protocol) for image in x])


class ProtocolModel(nn.Module):
    """``model`` behind its input protocol: N×3×H×W float images in [0, 1] -> N scores equal
    to ``model.score`` (the mean over the views), differentiable."""

    def __init__(self, model: IQAModel):
        super().__init__()
        self.model = model
        self.transforms = BatchInputTransform(model.protocol)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = self.transforms(x)
        scores = self.model(views.flatten(0, 1))
        return scores.view(views.shape[0], views.shape[1]).mean(dim=1)
