"""The ``mlive`` preset: a partial order over two stacked distortions, from ``rankiqa distort``
through the ranked set and the sampler to the pairs of the ranking loss."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.errors import UserError
from rankiqa.core.imageio import read_image
from rankiqa.data.ranked import (
    BatchLayout,
    RankedBatchSampler,
    collate_samples,
    eval_items,
    read_ranked_set,
)
from rankiqa.distortions import MLIVE, dominates
from rankiqa.distortions.generate import level_rng, version_rng
from rankiqa.losses import ranking_pair_mask
from rankiqa.training.options import RankTrainConfig
from rankiqa.training.rank import ranking_metrics, resolve_layout, train_rank


def psnr(ref: np.ndarray, img: np.ndarray) -> float:
    mse = np.mean((ref.astype(np.float64) - img.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def the_issue_pairs() -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """(better, worse) stage levels as the issue states it: (b1, j1) is worse than (b2, j2)
    when b1 >= b2 and j1 >= j2 and they are not equal (levels 0..3 of each stage)."""
    grid = list(itertools.product(range(4), range(4)))
    return {
        ((b2, j2), (b1, j1))
        for (b1, j1), (b2, j2) in itertools.product(grid, grid)
        if b1 >= b2 and j1 >= j2 and (b1, j1) != (b2, j2)
    }


@pytest.fixture(scope="module")
def mlive_set(tmp_path_factory) -> Path:
    """``rankiqa distort --preset mlive`` on three small generated images."""
    root = tmp_path_factory.mktemp("mlive")
    src = root / "src"
    src.mkdir()
    for seed, size in ((1, (96, 128)), (2, (96, 128)), (4, (128, 128))):
        Image.fromarray(natural_image(*size, seed=seed)).save(src / f"img{seed}.png")
    out = root / "out"
    assert (
        main(
            ["distort", str(src), str(out), "--preset", "mlive", "--workers", "1", "--no-progress"]
        )
        == 0
    )
    return out


def test_grid_levels_and_known_pairs():
    for name, d in MLIVE.items():
        assert d.num_levels == 15 and [s.num_levels for s in d.stages] == [3, 3]
        assert d.grid[0] == (0, 0) and d.coordinates(6) == (1, 2) and d.level_of((3, 1)) == 13
        assert [s.name for s in d.stages] == ["blur", name[len("blur") :]]
        pairs = {(d.grid[b], d.grid[w]) for b, w in d.known_pairs()}
        assert pairs == the_issue_pairs() and len(pairs) == 84
    # incomparable: more blur but less JPEG
    assert not dominates((2, 0), (0, 1)) and not dominates((0, 1), (2, 0))
    with pytest.raises(ValueError, match="level"):
        MLIVE["blurjpeg"](natural_image(32, 32), 16)


def test_single_stage_versions_equal_the_stage_alone():
    img = natural_image(48, 64, seed=3)
    d = MLIVE["blurnoise"]
    blur, noise = d.stages
    assert np.array_equal(d(img, d.level_of((2, 0))), blur(img, 2))
    jpeg = MLIVE["blurjpeg"].stages[1]
    assert np.array_equal(MLIVE["blurjpeg"](img, MLIVE["blurjpeg"].level_of((0, 3))), jpeg(img, 3))
    # the noise field is shared by every level of a reference (common random numbers) ...
    rng = version_rng(0, "r", "blurnoise", 5, d)
    assert np.array_equal(rng.random(3), version_rng(0, "r", "blurnoise", 9, d).random(3))
    a = d(img, d.level_of((0, 1)), version_rng(0, "r", "blurnoise", 1, d)).astype(float) - img
    b = d(img, d.level_of((0, 2)), version_rng(0, "r", "blurnoise", 2, d)).astype(float) - img
    inside = (img > 40) & (img < 215)  # no clipping at either variance
    assert np.corrcoef(a[inside], b[inside])[0, 1] > 0.95
    # ... while plain groups keep one generator per level
    other = level_rng(0, "r", "wn", 2).random(3)
    assert not np.array_equal(version_rng(0, "r", "wn", 1, blur).random(3), other)


def test_distort_writes_grid_and_pairs(mlive_set):
    with open(mlive_set / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * (1 + 2 * 15)
    assert {r["distortion"] for r in rows} == {"pristine", "blurjpeg", "blurnoise"}
    info = json.loads((mlive_set / "preset.json").read_text())
    assert info["preset"] == "mlive"
    for name, d in MLIVE.items():
        entry = info["groups"][name]
        assert entry["order"] == "componentwise"
        assert [tuple(c) for c in entry["levels"]] == list(d.grid[1:])
        assert [tuple(p) for p in entry["pairs"]] == d.known_pairs()
        assert [s["function"] for s in entry["stages"]] == [s.function for s in d.stages]


def test_known_pairs_are_ordered_by_psnr(mlive_set):
    """Every pair the preset claims (preset.json) is ordered by PSNR against the pristine."""
    info = json.loads((mlive_set / "preset.json").read_text())
    ranked = read_ranked_set(mlive_set)
    checked = 0
    for ref in ranked.references:
        pristine = read_image(ranked.pristine[ref])
        for group in ranked.groups:
            values = [psnr(pristine, read_image(ranked.path(ref, group, lv))) for lv in range(16)]
            for better, worse in info["groups"][group]["pairs"]:
                assert values[better] > values[worse], (ref, group, better, worse, values)
                checked += 1
    assert checked == 3 * 2 * 84


def test_sampler_and_loss_use_only_the_known_pairs(mlive_set):
    ranked = read_ranked_set(mlive_set)
    assert ranked.label_width == 2
    assert ranked.coordinates["blurjpeg"][6] == (1, 2)
    layout, family = resolve_layout("auto", ranked)
    assert (str(layout), family) == ("2x16x1", "custom")
    sampler = RankedBatchSampler(ranked, layout, iterations=3, seed=0)
    known = {(b, w) for b, w in MLIVE["blurjpeg"].known_pairs()}
    for samples in sampler:
        levels = collate_samples(
            [(torch.zeros(3, 2, 2), s.group, s.level, s.reference) for s in samples]
        )[2]
        assert levels.shape == (32, 2)
        groups = torch.tensor([s.group for s in samples])
        refs = torch.tensor([s.reference for s in samples])
        mask = ranking_pair_mask(groups, levels, refs)
        codes = [4 * b + j for b, j in levels.tolist()]  # row-major level numbers
        pairs = {(groups[i].item(), codes[i], codes[j]) for i, j in mask.nonzero().tolist()}
        assert len(pairs) == int(mask.sum()) == 2 * 84
        assert {(c1, c2) for _, c1, c2 in pairs} == known
    # a smaller layout samples some levels and still ranks only known pairs among them
    sub = RankedBatchSampler(ranked, BatchLayout(2, 6, 1), iterations=1, seed=3).batch(0)
    levels = torch.tensor([s.level for s in sub])
    mask = ranking_pair_mask(torch.tensor([s.group for s in sub]), levels, None, "group")
    for i, j in mask.nonzero().tolist():
        assert dominates(tuple(levels[j].tolist()), tuple(levels[i].tolist()))


def test_validation_metrics_use_the_partial_order(mlive_set):
    ranked = read_ranked_set(mlive_set)
    items = eval_items(ranked)
    levels = np.array([i.level for i in items])
    assert levels.shape == (len(ranked), 2)
    refs = np.array([i.reference for i in items])
    groups = np.array([i.group for i in items])
    # scores that order every known pair but contradict the level numbers (b beats j)
    scores = -(levels[:, 0] * 1.0 + levels[:, 1] * 10.0)
    metrics = ranking_metrics(scores, refs, groups, levels, margin=0.0)
    assert metrics["pair_acc"] == 1.0
    codes = np.array([4 * b + j for b, j in levels])
    assert ranking_metrics(scores, refs, groups, codes, margin=0.0)["pair_acc"] < 1.0


def test_tampered_preset_is_refused(mlive_set, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(mlive_set, copy)
    info = json.loads((copy / "preset.json").read_text())
    info["groups"]["blurnoise"]["pairs"].append([3, 4])  # (0, 3) vs (1, 0): not comparable
    (copy / "preset.json").write_text(json.dumps(info))
    with pytest.raises(UserError, match="'blurnoise': 'pairs' \\(85\\) are not the componentwise"):
        read_ranked_set(copy)
    info["groups"]["blurnoise"]["levels"] = info["groups"]["blurnoise"]["levels"][:10]
    del info["groups"]["blurnoise"]["pairs"]
    (copy / "preset.json").write_text(json.dumps(info))
    with pytest.raises(UserError, match="manifest level 11 has no stage levels"):
        read_ranked_set(copy)


def test_train_rank_runs_on_the_mlive_set(mlive_set, tmp_path):
    config = RankTrainConfig(
        data=str(mlive_set),
        out=str(tmp_path / "run"),
        head="compact",
        crop_size=64,
        iters=2,
        val_every=2,
        log_every=1,
        optimizer="adam",
        lr=1e-4,
        margin=1.0,
        workers=0,
        progress=False,
        val_fraction=0.34,
    )
    summary = train_rank(config)
    assert summary["layout"] == "2x16x1" and summary["steps"] == 2
    assert 0.0 <= summary["val"]["pair_acc"] <= 1.0
