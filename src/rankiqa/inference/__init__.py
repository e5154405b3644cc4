"""Scoring images with trained quality models, in three parts:

* :mod:`~rankiqa.inference.model`: the quality model (:class:`IQAModel`), loading and saving,
  the packaged-model registry and quality maps computed with PyTorch;
* :mod:`~rankiqa.inference.scoring`: inputs, batches, result rows, runtime choice, and the
  scoring path without torch (ONNX Runtime on the graphs shipped with packaged models);
* :mod:`~rankiqa.inference.export`: ONNX export, the preprocessing graph, graph passes and
  the command that regenerates the shipped graphs.

The names below are imported when first used, so ``import rankiqa.inference`` (and the
torch-free scoring path under it) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from rankiqa.core.errors import torch_missing

#: public name -> module that defines it
_NAMES = {
    "IQAModel": "rankiqa.inference.model.iqa_model",
    "ModelWeights": "rankiqa.inference.model.registry",
    "get_model_weights": "rankiqa.inference.model.registry",
    "list_models": "rankiqa.inference.model.registry",
    "load_model_file": "rankiqa.inference.model.loading",
    "load_model": "rankiqa.inference.scoring.api",
    "score": "rankiqa.inference.scoring.api",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        try:
            module = importlib.import_module(_NAMES[name])
        except ModuleNotFoundError as exc:  # the light install: one line naming the extra
            missing = torch_missing(exc, f"rankiqa.{name}")
            if missing is None:
                raise
            raise missing from None
        return getattr(module, name)
    raise AttributeError(f"module 'rankiqa.inference' has no attribute {name!r}")
