"""Scoring without torch: a packaged model's shipped ONNX graph run by ONNX Runtime.

:class:`OnnxModel` scores and maps images as :class:`~rankiqa.inference.model.IQAModel`
does (same decoding, same input protocol in NumPy, :mod:`rankiqa.inference.scoring.views`),
from the graph ``NAME.onnx`` shipped beside ``NAME.safetensors``
(:mod:`rankiqa.inference.export.packaged`). Scores and maps agree with the PyTorch model to
1e-4 (a test checks every packaged model). Quality maps pool the graph's feature-map outputs
over regions and apply the head's small MLP, read from the model file with NumPy.

Examples
--------
>>> import numpy as np
>>> model = load_onnx_model("default")
>>> image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
>>> 0 <= model.score(image) <= 100
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankiqa.core.errors import TORCH_EXTRA, TorchMissing, UserError
from rankiqa.core.imageio import DEFAULT_MAX_PIXELS, naming, read_image, to_rgb8
from rankiqa.core.model_file import read_metadata, read_numpy_tensors, scale_scores
from rankiqa.core.protocol import InputProtocol, decode_size_hint
from rankiqa.inference.model.map_grid import (
    DEFAULT_OVERLAP,
    QualityMap,
    assemble_map,
    cells,
    check_overlap,
    region_side,
)
from rankiqa.inference.model.paths import graph_of, resolve_model_path
from rankiqa.inference.model.rows import ScoredImage
from rankiqa.inference.scoring.batch import pool_scores
from rankiqa.inference.scoring.cpu import cpu_session
from rankiqa.inference.scoring.precision import choose_graph
from rankiqa.inference.scoring.views import image_views, prepare_image, to_float_chw

#: region poolings the torch-free maps reproduce (the graph's side file names the head's):
#: per-channel mean and std of every tapped stage, or mean and max of the last feature map
POOLINGS = ("mean_std", "mean_max")


class OnnxModel:
    """A model file's shipped ONNX graph, ready to score (no torch). Implements
    :class:`~rankiqa.inference.model.scorer.Scorer`; what needs the PyTorch model
    (``model(x)``, :meth:`with_protocol`, :meth:`transforms`) raises
    :class:`~rankiqa.core.errors.TorchMissing`, an ``ImportError`` naming the ``torch`` extra.

    ``threads``: ONNX Runtime's intra-op threads (default: its own choice, all cores).
    ``precision``: what ``graph`` computes in, ``fp32`` or ``int8``
    (:mod:`rankiqa.inference.scoring.precision` chooses). Picklable: a copy in another process opens its own session on first use.
    """

    runtime_name = "onnxruntime"

    def __init__(
        self,
        model_path: str | os.PathLike,
        graph: str | os.PathLike,
        threads=None,
        precision: str = "fp32",
    ):
        self.path = Path(model_path)
        self.graph = Path(graph)
        self.precision = precision
        self.metadata = dict(read_metadata(self.path))
        self.metadata["name"] = self.metadata.get("name") or self.path.stem
        self.protocol = InputProtocol.from_dict(self.metadata["input"])
        self.score_meta = dict(self.metadata["score"])
        self.config = self.metadata["model_config"]
        self.threads = threads
        self._session = None
        self._head: dict[str, np.ndarray] | None = None
        try:
            side = json.loads(Path(f"{self.graph}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            side = {}
        self.pooling = side.get("pooling") if isinstance(side, dict) else None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_session": None}

    def worker_copy(self, threads: int = 1) -> OnnxModel:
        """An unopened copy for a worker process (single-threaded by default)."""
        copy = object.__new__(OnnxModel)
        copy.__dict__.update(self.__getstate__(), threads=threads)
        return copy

    @property
    def device(self) -> str:
        return "cpu"

    def to(self, device: Any) -> OnnxModel:
        """Itself on the CPU; ONNX Runtime models run nowhere else."""
        if str(device) != "cpu":
            raise UserError(
                f"device {device}: the ONNX Runtime model runs on the CPU; the PyTorch model "
                f"runs elsewhere (runtime='torch', {TORCH_EXTRA})"
            )
        return self

    @property
    def session(self):
        if self._session is None:
            self._session = cpu_session(self.graph, self.threads)
        return self._session

    # ----------------------------------------------------------------------------- scoring
    def decode(self, image: Any, max_pixels: int | None = None, exact_decode: bool = False):
        """Any supported image (path, PIL image, uint8 array) as a uint8 H×W×3 array."""
        if isinstance(image, (str, os.PathLike)):
            draft = None if exact_decode else decode_size_hint(self.protocol)
            return read_image(image, max_pixels=max_pixels or DEFAULT_MAX_PIXELS, draft_size=draft)
        if isinstance(image, np.ndarray):
            return image
        if hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
            return to_rgb8(image)
        raise UserError(
            f"cannot score an object of type {type(image).__name__} without torch "
            "(paths, PIL images and uint8 arrays work; tensors need pip install 'rankiqa[torch]')"
        )

    def views(self, image: Any, max_pixels: int | None = None, exact_decode: bool = False):
        """The V×3×h×w float32 views of one image under the model's input protocol."""
        with naming(image):  # a bad file in a list raises naming that file
            return image_views(self.decode(image, max_pixels, exact_decode), self.protocol)

    def score_views(self, views: Sequence[np.ndarray]) -> list[float]:
        """Scores of several images given their views: the mean over each image's views."""
        results = []
        for v in views:
            outs = [self.session.run(["score"], {"image": v[i : i + 1]})[0] for i in range(len(v))]
            results.append(float(np.concatenate(outs).mean()))
        return results

    def score(
        self, x: Any, batch_size: int = 16, exact_decode: bool = False
    ) -> float | list[float]:
        """Score(s) of an image or a list of images, as :meth:`IQAModel.score`."""
        single = not isinstance(x, (list, tuple))
        items = [x] if single else list(x)
        scores = self.score_views([self.views(i, exact_decode=exact_decode) for i in items])
        return scores[0] if single else scores

    def score_files(
        self,
        paths: Sequence[str | os.PathLike],
        batch_size: int = 16,
        workers: int = 2,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        draft: bool = True,
    ) -> Iterator[ScoredImage]:
        """One :class:`ScoredImage` per path, in order: ``workers`` processes each decode,
        preprocess and score with a single-threaded session (0: this process)."""
        return pool_scores(self, paths, workers, max_pixels, draft)

    # ------------------------------------------------------------------------ quality maps
    def quality_map(
        self, image: Any, region: int | None = None, overlap: int | None = None
    ) -> np.ndarray:
        """Local quality of one image: a rows × cols float32 array on the score scale
        (:meth:`region_map`'s values)."""
        overlap = DEFAULT_OVERLAP if overlap is None else overlap
        return self.region_map(image, region=region, overlap=overlap).values

    def region_map(
        self,
        image: Any,
        region: int | None = None,
        overlap: int = DEFAULT_OVERLAP,
        max_pixels: int | None = None,
        clip: bool = True,
    ) -> QualityMap:
        """Local quality of an image, as :func:`rankiqa.inference.model.regions.quality_map`."""
        if self.pooling not in POOLINGS:
            raise UserError(
                f"{self.graph}: no region pooling recorded for quality maps; regenerate it: "
                "python -m rankiqa.inference.export.packaged"
            )
        check_overlap(overlap)
        array = self.decode(image, max_pixels, exact_decode=True)
        prepared = prepare_image(to_float_chw(array), self.protocol)
        height, width = int(prepared.shape[1]), int(prepared.shape[2])
        region_px = region_side(region, height, width)
        outputs = self.session.run(None, {"image": np.ascontiguousarray(prepared[None])})
        score, features = outputs[0], outputs[1:]
        grid = cells(height, width, region_px, overlap)
        raw = self._region_outputs([f[0] for f in features], grid, overlap)
        values = scale_scores(raw.astype(np.float32), self.score_meta)
        full_size = (int(array.shape[0]), int(array.shape[1]))
        return assemble_map(values, score[0], region_px, (height, width), full_size, self, clip)

    # ------------------------------------------------------- what needs the PyTorch model
    def eval(self) -> OnnxModel:
        """Itself: an ONNX Runtime model is always in inference mode."""
        return self

    def __call__(self, x: Any) -> Any:
        raise TorchMissing("model(x), the differentiable network,")

    def with_protocol(self) -> Any:
        raise TorchMissing("model.with_protocol(), the differentiable scorer,")

    def transforms(self) -> Any:
        raise TorchMissing("model.transforms(), the input protocol as torch operations,")

    def _head_weights(self) -> dict[str, np.ndarray]:
        if self._head is None:
            tensors, _ = read_numpy_tensors(self.path, prefix="head.")
            # float64 once: the head runs on float64 region statistics
            self._head = {k.removeprefix("head."): v.astype(np.float64) for k, v in tensors.items()}
        return self._head

    def _region_outputs(self, features, grid, overlap) -> np.ndarray:
        """Head outputs per region (rows × cols) from C×h×w feature maps."""
        pooled = []
        for f in features:
            rows = _window_matrix(f.shape[1], grid[0], overlap)
            cols = _window_matrix(f.shape[2], grid[1], overlap)
            f64 = f.astype(np.float64)
            mean = np.einsum("rh,chw,sw->rsc", rows, f64, cols)
            if self.pooling == "mean_std":
                square = np.einsum("rh,chw,sw->rsc", rows, f64 * f64, cols)
                count = f.shape[1] * f.shape[2] * overlap * overlap / (grid[0] * grid[1])
                var = np.maximum(square - mean * mean, 0.0)
                if count > 1:
                    var *= count / (count - 1)
                pooled += [mean, np.sqrt(var)]
            else:
                pooled += [mean, _window_max(f, grid, overlap)]
        x = np.concatenate(pooled, axis=2)
        return self._mlp(x)

    def _mlp(self, x: np.ndarray) -> np.ndarray:
        """The head on ...×F pooled features: a stats head's standardisation and layers, or an
        ensemble head's members (:mod:`rankiqa.models.ensemble`) on their slices of F, each
        mapped by its score scale and offset, averaged."""
        w = self._head_weights()
        if "scale" not in w:
            return _stats_mlp(x, w)
        members = len(w["scale"])
        width = x.shape[-1] // members
        outs = [
            _stats_mlp(x[..., k * width:(k + 1) * width],
                       {n.removeprefix(f"heads.{k}."): v for n, v in w.items()
                        if n.startswith(f"heads.{k}.")}) * float(w["scale"][k]) + float(w["offset"][k])
            for k in range(members)
        ]
        return np.mean(outs, axis=0)


def _stats_mlp(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """A stats head's BatchNorm and Linear/ReLU layers on ...×F features (weights by name)."""
    if "norm.weight" in w:
        eps = 1e-5
        x = (x - w["norm.running_mean"]) / np.sqrt(w["norm.running_var"] + eps)
        x = x * w["norm.weight"] + w["norm.bias"]
    layers = sorted({int(k.split(".")[1]) for k in w if k.startswith("fc.")})
    for number, layer in enumerate(layers):
        x = x @ w[f"fc.{layer}.weight"].T + w[f"fc.{layer}.bias"]
        if number < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x[..., 0]


def _pool_matrix(length: int, count: int) -> np.ndarray:
    """count×length averaging matrix of adaptive average pooling (PyTorch's bins)."""
    matrix = np.zeros((count, length))
    for i in range(count):
        start, end = (i * length) // count, -((-(i + 1) * length) // count)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def _window_matrix(length: int, count: int, overlap: int) -> np.ndarray:
    """Mean over windows of ``overlap`` adaptive-pooling bins, stride one bin."""
    bins = _pool_matrix(length, count)
    windows = count - overlap + 1
    return np.stack([bins[i : i + overlap].mean(axis=0) for i in range(windows)])


def _window_max(f: np.ndarray, grid, overlap: int) -> np.ndarray:
    """Max over windows of ``overlap``² adaptive max-pooling bins: rows × cols × C."""
    channels, height, width = f.shape

    def bounds(length, count):
        return [((i * length) // count, -((-(i + 1) * length) // count)) for i in range(count)]

    sub = np.empty((grid[0], grid[1], channels), f.dtype)
    for i, (r0, r1) in enumerate(bounds(height, grid[0])):
        for j, (c0, c1) in enumerate(bounds(width, grid[1])):
            sub[i, j] = f[:, r0:r1, c0:c1].max(axis=(1, 2))
    rows, cols = grid[0] - overlap + 1, grid[1] - overlap + 1
    out = np.full((rows, cols, channels), -np.inf, f.dtype)
    for di in range(overlap):
        for dj in range(overlap):
            np.maximum(out, sub[di : di + rows, dj : dj + cols], out=out)
    return out


def shipped_graph(name_or_path: str | os.PathLike | None) -> tuple[Path, Path | None]:
    """(model file, its up-to-date shipped graph or ``None``)."""
    path = resolve_model_path(name_or_path)
    return path, graph_of(path)


def load_onnx_model(
    name_or_path: str | os.PathLike | None = None, threads=None, precision: str = "auto"
) -> OnnxModel:
    """The :class:`OnnxModel` of a packaged model (or model file with its graph beside it);
    ``precision`` ``auto``, ``fp32`` or ``int8`` picks the graph
    (:func:`rankiqa.inference.scoring.precision.choose_graph`).

    Raises :class:`UserError` when there is no up-to-date graph beside the model file.
    """
    path, graph = shipped_graph(name_or_path)
    if graph is None:
        raise UserError(
            f"{path}: no up-to-date ONNX graph beside it (scoring without torch needs one: "
            "python -m rankiqa.inference.export.packaged; or pip install 'rankiqa[torch]')"
        )
    graph, used = choose_graph(path, precision)
    return OnnxModel(path, graph, threads, used)
