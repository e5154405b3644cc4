"""Every docstring example of the package runs: ``pytest`` collects ``src/rankiqa`` with
``--doctest-modules`` (``pyproject.toml``; no hand-kept list of modules). Here: that this stays
so, and that the public API shows examples at all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pytest_collects_every_docstring_example() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_options = options["tool"]["pytest"]["ini_options"]
    assert "src/rankiqa" in pytest_options["testpaths"]
    assert "--doctest-modules" in pytest_options["addopts"].split()


def test_public_functions_have_examples() -> None:
    """Every public function of the scoring API, losses and distortions shows an example."""
    import rankiqa.distortions as distortions
    import rankiqa.losses as losses
    from rankiqa.inference.model import registry
    from rankiqa.inference.scoring import api

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
