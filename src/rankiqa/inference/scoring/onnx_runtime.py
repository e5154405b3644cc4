"""ONNX Runtime as the scoring engine of a model: the same network, 3-8x faster on CPUs.

PyTorch's CPU kernels for depthwise convolutions (EfficientNet-Lite, MobileNet) are slow;
ONNX Runtime's are not. :func:`attach_onnx_runtime` exports the model once to an ONNX file in
the user's cache folder (``$RANKIQA_CACHE``, else ``$XDG_CACHE_HOME/rankiqa``, else
``~/.cache/rankiqa``; the name is a hash of the weights, metadata, torch version and export
version), opens an ``onnxruntime.InferenceSession`` on it and lets
:meth:`IQAModel.score_views` use it. Scores equal the PyTorch ones to ~1e-5; ``model(x)``
stays the differentiable PyTorch module.

Examples
--------
>>> from rankiqa.inference.model.loading import untrained_model
>>> import tempfile
>>> model = untrained_model("shallow", "compact")
>>> _ = attach_onnx_runtime(model, cache_dir=tempfile.mkdtemp())
>>> model.runtime_name
'onnxruntime'
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rankiqa.core.errors import UserError
from rankiqa.core.files import cache_dir
from rankiqa.inference.export.onnx import export_onnx, supports_dynamic_size
from rankiqa.inference.model.scorer import RUNTIMES
from rankiqa.inference.scoring.cpu import cpu_session
from rankiqa.models.backbones import BACKBONES
from rankiqa.models.head_specs import any_size_heads

if TYPE_CHECKING:
    from rankiqa.inference.model.iqa_model import IQAModel

#: backbones whose depthwise convolutions make ONNX Runtime worth an export (``auto``)
ONNX_PREFERRED = tuple(name for name, spec in BACKBONES.items() if spec.depthwise)


def default_cache_dir() -> Path:
    """Folder of derived files (exported ONNX graphs): :func:`rankiqa.core.files.cache_dir`."""
    return cache_dir()


#: bumped whenever the exported graph changes for the same model (a new cache file name)
EXPORT_VERSION = 2


def model_digest(model: IQAModel) -> str:
    """Hash of the weights, the metadata, the torch version and :data:`EXPORT_VERSION`
    (the ONNX file's name)."""
    h = hashlib.sha256()
    h.update(f"{torch.__version__} export {EXPORT_VERSION}".encode())
    h.update(json.dumps(model.metadata, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


class OnnxRuntime:
    """Runs an exported model: float N×3×H×W in [0, 1] -> N scores (0–100).

    Picklable: a copy sent to another process re-opens its session there on first use.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        self.threads = int(threads or torch.get_num_threads())
        self._session = None
        self.session  # noqa: B018 - open now: a damaged file fails here, not mid-run

    @property
    def session(self):
        if self._session is None:
            self._session = cpu_session(self.path, self.threads)
        return self._session

    def __getstate__(self) -> dict:
        return {"path": self.path, "threads": self.threads, "_session": None}

    def worker_copy(self, threads: int = 1) -> OnnxRuntime:
        """An unopened copy for a worker process (opens its own session there, lazily)."""
        copy = object.__new__(OnnxRuntime)
        copy.__dict__.update(self.__getstate__(), threads=threads)
        return copy

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().float().cpu().numpy())
        # one image per run: on 2 CPU cores Lite0 at 384 px ran at 44 images/s at batch 1
        # against 34 at batch 4 (docs/scoring.md)
        outs = [self.session.run(["score"], {"image": x[i : i + 1]})[0] for i in range(len(x))]
        return torch.from_numpy(np.concatenate(outs)) if outs else torch.zeros(0)


def export_for_runtime(model: IQAModel, path: Path) -> Path:
    """Export ``model`` (dynamic batch and size) to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    try:
        return export_onnx(model, path, dynamic_size=True)
    finally:
        model.train(was_training)


def onnxruntime_installed() -> bool:
    """Whether the ``onnxruntime`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def attach_onnx_runtime(
    model: IQAModel,
    cache_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    graph: str | os.PathLike | None = None,
) -> OnnxRuntime:
    """Give ``model`` an ONNX Runtime scoring engine: ``graph`` (a shipped graph of the same
    weights, see :func:`rankiqa.inference.model.registry.graph_of`), else an export cached
    in ``cache_dir`` (exported once).

    Raises :class:`UserError` when onnxruntime is missing, the head needs a fixed input size
    (the paper's head) or the export fails.
    """
    if not onnxruntime_installed():
        raise UserError(
            "the onnx runtime needs onnxruntime: pip install onnxruntime (or use --runtime torch)"
        )
    if not supports_dynamic_size(model):
        raise UserError(
            f"the onnx runtime needs a head that accepts any size ({any_size_heads()}), "
            f"not {model.net.config['head']!r}"
        )
    if graph is not None:
        model.runtime = OnnxRuntime(graph, threads)
        return model.runtime
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / "onnx" / f"{model_digest(model)}.onnx"
    for attempt in range(2):  # a missing or damaged cache file is exported (again) once
        try:
            if attempt or not path.is_file():
                export_for_runtime(model, path)
            runtime = OnnxRuntime(path, threads)
            break
        except Exception as exc:  # noqa: BLE001 - any exporter/loader failure: one line
            if attempt:
                raise UserError(f"cannot prepare the onnx runtime for this model ({exc})") from None
    model.runtime = runtime
    return runtime


def select_runtime(
    model: IQAModel,
    runtime: str = "auto",
    threads: int | None = None,
    graph: str | os.PathLike | None = None,
) -> str:
    """Choose how :meth:`IQAModel.score_views` runs the network; returns ``"onnx"`` or ``"torch"``.

    ``auto``: ONNX Runtime for backbones with depthwise convolutions (:data:`ONNX_PREFERRED`,
    where it is 3-8x faster) on the CPU when onnxruntime is installed and the head accepts any
    input size, else PyTorch (with a one-line note on stderr when an export fails). ``onnx``:
    ONNX Runtime or an error. ``torch``: PyTorch. The choice is made from what the model and
    the installation can do, never from an error's wording.
    """
    if runtime not in RUNTIMES:
        raise UserError(f"invalid runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    model.runtime = None
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    preferred = model.net.config.get("backbone") in ONNX_PREFERRED
    if runtime == "torch" or (runtime == "auto" and not (on_cpu and preferred)):
        return "torch"
    if runtime == "onnx" and not on_cpu:
        raise UserError("the onnx runtime runs on the CPU; use --device cpu or --runtime torch")
    capable = onnxruntime_installed() and supports_dynamic_size(model)
    if runtime == "auto" and not capable:
        return "torch"
    try:
        attach_onnx_runtime(model, threads=threads, graph=graph)
    except UserError as exc:
        if runtime == "onnx":
            raise
        print(f"rankiqa: note: {exc}; scoring with PyTorch", file=sys.stderr)
        return "torch"
    return "onnx"
