"""The ``Examples`` sections of the public API run (as ``pytest --doctest-modules`` would)."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: modules whose docstring examples document the public API
PUBLIC_MODULES = (
    "rankiqa.core.checkpoint",
    "rankiqa.core.devices",
    "rankiqa.core.files",
    "rankiqa.core.imageio",
    "rankiqa.core.preprocess",
    "rankiqa.core.seeding",
    "rankiqa.distortions.blur",
    "rankiqa.distortions.color",
    "rankiqa.distortions.compression",
    "rankiqa.distortions.noise",
    "rankiqa.distortions.spatial",
    "rankiqa.distortions.registry",
    "rankiqa.inference.api",
    "rankiqa.inference.model",
    "rankiqa.inference.onnx_passes",
    "rankiqa.inference.registry",
    "rankiqa.losses.ranking",
    "rankiqa.losses.regression",
    "rankiqa.training.loop",
    "rankiqa.models.quality",
)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"


def test_public_functions_have_examples() -> None:
    """Every public function of the scoring API, losses and distortions shows an example."""
    import rankiqa.distortions as distortions
    import rankiqa.losses as losses
    from rankiqa.inference import api, registry

    functions = [
        api.load_model,
        api.score,
        registry.list_models,
        registry.get_model_weights,
        losses.ranking_hinge_loss,
        losses.regression_loss,
        distortions.Distortion,
        *distortions.FUNCTIONS.values(),
    ]
    missing = [f.__qualname__ for f in functions if "Examples\n" not in (f.__doc__ or "")]
    assert not missing, f"no Examples section: {missing}"
