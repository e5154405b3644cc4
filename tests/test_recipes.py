"""Recipe helpers that shape the shipped model: the exact ensemble merge of stats heads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from rankiqa.models.heads import StatsHead

ROOT = Path(__file__).resolve().parents[1]


def _package_module():
    spec = importlib.util.spec_from_file_location("package", ROOT / "recipes/lite0/package.py")
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
    merged.load_state_dict(_package_module().merge_heads([m.state_dict() for m in members]))
    x = torch.randn(10, 20) * 3 + 1
    with torch.no_grad():
        expected = torch.stack([m.fc(m.norm(x)) for m in members]).mean(0)
        got = merged.fc(merged.norm(x))
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, members[0].fc(members[0].norm(x)), atol=1e-3)
