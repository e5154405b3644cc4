"""Shared fixtures: small synthetic natural-looking images, the optional ../shared folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


SHARED = Path(
    os.environ.get("RANKIQA_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")
)


def natural_image(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A deterministic, textured, smooth-ish RGB image (edges, gradients, fine detail)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 0.5 + 0.25 * np.sin(xx / 9.0 + seed) * np.cos(yy / 13.0)
    edges = ((xx // 16 + yy // 16) % 2) * 0.2
    noise = rng.normal(0, 1, (height // 4 + 1, width // 4 + 1))
    detail = np.kron(noise, np.ones((4, 4)))[:height, :width] * 0.05
    channels = [base + edges + detail, base * 0.8 + 0.1 + detail, 1.0 - base * 0.7 + edges * 0.5]
    img = np.stack(channels, axis=2)
    return np.clip(img * 255.0, 0, 255).astype(np.uint8)


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
