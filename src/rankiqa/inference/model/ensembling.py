"""One model file from several trained on one frozen bottom: their prediction ensemble.

``rankiqa train-head`` runs on one ``rankiqa features --cut K`` cache train only the blocks above
the cut, so their networks share the stem and blocks under it. :func:`ensemble_models` joins
them into one network that runs the bottom once and every member's top
(:mod:`rankiqa.models.ensemble`), scoring the mean of the members' linear scores, then their
common squash.

Examples
--------
>>> import tempfile, torch
>>> from rankiqa.inference.model.loading import load_model_file, untrained_model
>>> from rankiqa.inference.model.saving import save_model
>>> from rankiqa.models.ensemble import top_parameter_names
>>> folder = tempfile.mkdtemp()
>>> torch.manual_seed(0) and None
>>> a, b = (untrained_model("efficientnet_lite0", head="stats") for _ in range(2))
>>> bottom = {k: v for k, v in a.net.backbone.state_dict().items() if not top_parameter_names(k, 11)}
>>> b.net.backbone.load_state_dict(bottom, strict=False) and None
>>> paths = [save_model(m, f"{folder}/{n}.safetensors") for m, n in ((a, "a"), (b, "b"))]
>>> out = ensemble_models(paths, f"{folder}/both.safetensors", cut=11)
>>> both = load_model_file(out)
>>> x = torch.rand(1, 3, 64, 64)
>>> torch.allclose(both(x), (a(x) + b(x)) / 2, atol=1e-3)
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rankiqa.core.errors import UserError
from rankiqa.core.model_file import save_model_file
from rankiqa.inference.model.loading import load_model_file
from rankiqa.models.ensemble import ensemble_of

__all__ = ["ensemble_models"]


def ensemble_models(
    paths: list[str | os.PathLike],
    out: str | os.PathLike,
    cut: int,
    name: str | None = None,
    half: bool = False,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write the prediction ensemble of the model files ``paths`` to ``out`` (atomically).

    The members must share the input protocol, the architecture, the score squash and the
    stem and blocks ``0 .. cut-1`` (:class:`UserError` naming the first that does not).
    ``half`` stores the weights in float16 (:func:`rankiqa.core.model_file.save_model_file`).
    The file's metadata: the first member's, with the members' files, their training and
    metrics listed under ``training.members``, and ``metrics`` (e.g. a cross-validation of
    the ensemble) in place of the first member's.
    """
    if len(paths) < 2:
        raise UserError("an ensemble needs at least two model files")
    models = [load_model_file(p) for p in paths]
    first = models[0]
    for path, model in zip(paths[1:], models[1:], strict=True):
        if model.protocol != first.protocol:
            raise UserError(f"{path}: input protocol {model.protocol} differs from "
                            f"{paths[0]}'s {first.protocol}")
    net = ensemble_of([m.net for m in models], [m.score_meta for m in models], cut)
    score = {**first.score_meta, "offset": 0.0, "scale": 1.0}
    metadata = dict(first.metadata)
    metadata.update(
        model_config=dict(net.config),
        input=first.protocol.to_dict(),
        score=score,
        name=name or metadata.get("name"),
        metrics=dict(metrics or {}),
        training={
            "task": "rankiqa ensemble: the mean linear score of the members (then the squash)",
            "cut": int(cut),
            "weights": "float16" if half else "float32",
            "members": [{"file": Path(p).name, "training": m.metadata.get("training"),
                         "metrics": m.metadata.get("metrics")}
                        for p, m in zip(paths, models, strict=True)],
        },
    )
    return save_model_file(out, net.state_dict(), metadata, half=half)
