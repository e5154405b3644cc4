"""Shared fixtures: small synthetic natural-looking images, the optional ../shared folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from image_fixtures import natural_image  # noqa: F401 - the tests import it from here

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


SHARED = Path(
    os.environ.get("RANKIQA_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")
)


@pytest.fixture
def image() -> np.ndarray:
    return natural_image()


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not available")
    return SHARED


@pytest.fixture(scope="session")
def stats_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained shallow + stats-head model file (maps and report tests)."""
    from rankiqa.inference.model.loading import untrained_model
    from rankiqa.inference.model.saving import save_model

    model = untrained_model(
        "shallow",
        head="stats",
        input={"resize": 200, "crop_size": 192},
        score={"offset": 50.0, "scale": 10.0},
    )
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.safetensors")
