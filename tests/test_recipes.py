"""Recipe helpers: the exact ensemble merge of stats heads, the validation-chosen blend of runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from rankiqa.models.heads import StatsHead

ROOT = Path(__file__).resolve().parents[1]


def _recipe_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"recipes/lite0/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merged_ensemble_equals_the_mean_of_its_members():
    torch.manual_seed(0)
    channels = (4, 6)
    stats = torch.randn(64, 20) * 3 + 1
    members = []
    for _ in range(3):
        head = StatsHead(channels, hidden=8)
        head.norm.running_mean.copy_(stats.mean(0))
        head.norm.running_var.copy_(stats.var(0))
        with torch.no_grad():  # trained affine parameters differ per member
            head.norm.weight.uniform_(0.5, 1.5)
            head.norm.bias.normal_(0, 0.3)
        members.append(head.eval())
    merged = StatsHead(channels, hidden=24).eval()
    merged.load_state_dict(_recipe_module("package").merge_heads([m.state_dict() for m in members]))
    x = torch.randn(10, 20) * 3 + 1
    with torch.no_grad():
        expected = torch.stack([m.fc(m.norm(x)) for m in members]).mean(0)
        got = merged.fc(merged.norm(x))
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, members[0].fc(members[0].norm(x)), atol=1e-3)


def _predictions(val_scores, test_scores):
    return {"val_index": list(range(len(val_scores))), "val": list(val_scores),
            "test_index": list(range(len(val_scores), len(val_scores) + len(test_scores))),
            "test": list(test_scores)}


def test_blend_weight_is_chosen_on_the_validation_part_only():
    blend = _recipe_module("blend").blend
    targets = np.arange(20, dtype=float)
    right, wrong = np.arange(10.0), -np.arange(10.0)
    noise = np.resize([100.0, -100.0], 10)  # any share of it breaks the order
    # B ranks the validation part right, A is noise there: all weight on B, however the test
    # part reads
    row = blend(_predictions(noise, right), _predictions(right, wrong), targets)
    assert row["weight"] == 1.0
    assert row["val_srocc"] == pytest.approx(1.0)
    assert row["test_srocc"] == pytest.approx(-1.0)
    row = blend(_predictions(right, right), _predictions(noise, wrong), targets)
    assert row["weight"] == 0.0 and row["test_srocc"] == pytest.approx(1.0)


def test_blend_refuses_runs_on_different_parts():
    blend = _recipe_module("blend").blend
    a = _predictions(np.arange(5.0), np.arange(5.0))
    b = dict(a, test_index=a["test_index"][::-1])
    with pytest.raises(SystemExit, match="different validation or test parts"):
        blend(a, b, np.arange(10, dtype=float))
