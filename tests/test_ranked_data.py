"""Ranked-set reading, reference split, batch layouts and the batch sampler."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader

from ranked_fixtures import make_ranked_set
from rankiqa.core.errors import UserError
from rankiqa.data.ranked import (
    BatchLayout,
    EvalDataset,
    RankedBatchSampler,
    RankedCropDataset,
    collate_samples,
    eval_items,
    random_crop,
    read_ranked_set,
    read_ranked_sets,
    split_references,
)
from rankiqa.losses import ranking_pair_mask


@pytest.fixture(scope="module")
def live_set(tmp_path_factory):
    return make_ranked_set(tmp_path_factory.mktemp("live"), references=5, size=(24, 30))


@pytest.fixture(scope="module")
def tid_set(tmp_path_factory):
    groups = tuple(f"g{i:02d}" for i in range(11))
    return make_ranked_set(
        tmp_path_factory.mktemp("tid"), references=2, groups=groups, levels=4, size=(16, 16)
    )


def test_read_ranked_set(live_set):
    ranked = read_ranked_set(live_set)
    assert ranked.references == [f"set/img{r:02d}" for r in range(5)]
    assert ranked.groups == ["blur", "dark", "noise", "quant"]
    assert ranked.levels == {g: [1, 2, 3, 4, 5] for g in ranked.groups}
    assert len(ranked) == 5 * (1 + 4 * 5)
    assert ranked.path("set/img01", "blur", 0).name == "pristine.png"
    assert ranked.path("set/img01", "noise", 3).name == "noise_3.png"
    assert ranked.preset["preset"] == "test"
    sub = ranked.subset(["set/img03", "set/img00"])
    assert sub.references == ["set/img00", "set/img03"]
    assert len(sub) == 2 * 21


def test_manifest_errors(live_set, tmp_path):
    with pytest.raises(UserError, match="manifest not found"):
        read_ranked_set(tmp_path)
    with pytest.raises(UserError, match="not found"):
        read_ranked_set(tmp_path / "missing")
    lines = (live_set / "manifest.csv").read_text().splitlines()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.csv").write_text("\n".join([lines[0], lines[1], "a,b,c"]) + "\n")
    with pytest.raises(UserError, match=r"manifest.csv:3: expected 4 fields"):
        read_ranked_set(bad, check_files=False)
    (bad / "manifest.csv").write_text("\n".join([lines[0], "x.png,r,blur,high"]) + "\n")
    with pytest.raises(UserError, match=r"manifest.csv:2: level must be an integer"):
        read_ranked_set(bad, check_files=False)
    (bad / "manifest.csv").write_text("\n".join([lines[0], "x.png,r,pristine,0"]) + "\n")
    with pytest.raises(UserError, match=r"manifest.csv:2: image .*x.png not found"):
        read_ranked_set(bad)
    # incomplete grid: drop one distorted row
    (bad / "manifest.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(UserError, match="lacks"):
        read_ranked_set(bad, check_files=False)


def test_split_is_disjoint_deterministic_and_complete():
    refs = [f"r{i}" for i in range(10)]
    train, val = split_references(refs, 0.3, seed=1)
    assert len(val) == 3 and len(train) == 7
    assert not set(train) & set(val)
    assert sorted(train + val) == refs
    assert split_references(refs, 0.3, seed=1) == (train, val)
    assert split_references(refs, 0.3, seed=2) != (train, val)
    assert split_references(refs[:2], 0.01)[1] != []  # at least one validation reference
    assert split_references(refs, 0.0)[1] == []
    with pytest.raises(UserError, match="--val-fraction"):
        split_references(refs, 1.0)


def test_layout_parse():
    assert BatchLayout.parse("live") == BatchLayout(4, 6, 2)
    assert BatchLayout.parse("live").size == 48
    assert BatchLayout.parse("TID").size == 45
    assert BatchLayout.parse("3x4x2") == BatchLayout(3, 4, 2)
    for bad in ("3x4", "ax2x2", "2x1x1"):
        with pytest.raises(UserError, match="--layout"):
            BatchLayout.parse(bad)


def check_batch(batch, layout, ranked):
    assert len(batch) == layout.size
    blocks = Counter(s.group for s in batch)
    assert sorted(blocks) == list(range(layout.groups))
    assert set(blocks.values()) == {layout.levels * layout.references}
    refs = {s.reference for s in batch}
    assert len(refs) == layout.references
    group_names = set()
    for block in range(layout.groups):
        members = [s for s in batch if s.group == block]
        names = {p.split("/")[-1].rsplit("_", 1)[0] for p in (s.path for s in members)}
        names.discard("pristine.png")
        assert len(names) == 1  # one distortion group per block
        group_names |= names
        assert sorted({s.reference for s in members}) == sorted(refs)
        for ref in refs:
            levels = [s.level for s in members if s.reference == ref]
            assert len(levels) == layout.levels and len(set(levels)) == layout.levels
            assert min(levels) == 0  # the pristine image is in every block
    assert len(group_names) == layout.groups  # distinct groups


def test_sampler_live_layout(live_set):
    ranked = read_ranked_set(live_set)
    layout = BatchLayout.parse("live")
    sampler = RankedBatchSampler(ranked, layout, iterations=6, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 6
    for batch in batches:
        check_batch(batch, layout, ranked)
    # 5 references, 2 per batch -> 2 batches per epoch, each epoch covers 4 distinct references
    epoch0 = {s.reference for b in batches[:2] for s in b}
    assert len(epoch0) == 4
    assert [s.reference for s in batches[0]] != [s.reference for s in batches[2]] or [
        s.reference for s in batches[1]
    ] != [s.reference for s in batches[3]]
    # deterministic and resumable: iteration k is the same whatever the start
    resumed = list(RankedBatchSampler(ranked, layout, iterations=6, seed=3, start=4))
    assert resumed == batches[4:]
    assert list(RankedBatchSampler(ranked, layout, 6, seed=4)) != batches


def test_sampler_tid_layout_picks_groups_per_batch(tid_set):
    ranked = read_ranked_set(tid_set)
    layout = BatchLayout.parse("tid")
    sampler = RankedBatchSampler(ranked, layout, iterations=4, seed=0)
    chosen = set()
    for batch in sampler:
        check_batch(batch, layout, ranked)
        chosen |= {s.path.split("/")[-1].split("_")[0] for s in batch}
    assert len(chosen - {"pristine.png"}) > 9  # groups are redrawn per batch


def test_sampler_user_layout_subsamples_levels_and_shares_across_ranks(live_set):
    ranked = read_ranked_set(live_set)
    layout = BatchLayout.parse("2x3x1")
    full = RankedBatchSampler(ranked, layout, iterations=3, seed=5)
    for it in range(3):
        batch = full.batch(it)
        check_batch(batch, layout, ranked)
        parts = [
            RankedBatchSampler(ranked, layout, 3, seed=5, rank=r, world_size=2) for r in (0, 1)
        ]
        shares = [p.batch(it) for p in parts]
        assert shares[0] + shares[1] == batch
        assert {s.group for s in shares[0]} == {0}
    with pytest.raises(UserError, match="processes"):
        RankedBatchSampler(ranked, BatchLayout(3, 3, 1), 3, world_size=2)
    with pytest.raises(UserError, match="groups"):
        RankedBatchSampler(ranked, BatchLayout(5, 3, 1), 3)
    with pytest.raises(UserError, match="levels"):
        RankedBatchSampler(ranked, BatchLayout(2, 7, 1), 3)


def test_dataset_crops_and_pairs(live_set):
    ranked = read_ranked_set(live_set)
    layout = BatchLayout(4, 6, 2)
    sampler = RankedBatchSampler(ranked, layout, iterations=2, seed=0)
    loader = DataLoader(
        RankedCropDataset(crop_size=16), batch_sampler=sampler, collate_fn=collate_samples
    )
    images, groups, levels, refs = next(iter(loader))
    assert images.shape == (48, 3, 16, 16) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    mask = ranking_pair_mask(groups, levels, refs, "reference")
    # per block and reference: 6 levels -> 15 pairs; 4 blocks × 2 references
    assert int(mask.sum()) == 4 * 2 * 15
    assert int(ranking_pair_mask(groups, levels, refs, "group").sum()) == 4 * 15 * 4
    # each image gets its own crop: the pristine copies of one reference differ between blocks
    pristine = images[(levels == 0) & (refs == refs[0])]
    assert len(pristine) == 4
    assert not all(torch.equal(pristine[0], p) for p in pristine[1:])


def test_crop_upscales_small_images_and_eval_items(live_set):
    import numpy as np

    small = np.zeros((10, 20, 3), np.uint8)
    assert random_crop(small, 16, seed=0).shape == (3, 16, 16)
    ranked = read_ranked_set(live_set).subset(["set/img00"])
    items = eval_items(ranked)
    assert len(items) == 21 and sum(i.level == 0 for i in items) == 1
    assert EvalDataset(items, 16)[0].shape == (3, 16, 16)


def test_several_ranked_sets_read_as_one_with_prefixed_references(tmp_path):
    a = make_ranked_set(tmp_path / "a", references=2, groups=("blur", "noise"), levels=3)
    b = make_ranked_set(tmp_path / "b", references=3, groups=("blur", "noise"), levels=3)
    merged = read_ranked_sets([a, b])
    assert len(merged.references) == 5 and len(merged) == len(read_ranked_set(a)) + len(
        read_ranked_set(b)
    )
    assert merged.references[:2] == ["a/set/img00", "a/set/img01"]
    assert merged.path("b/set/img02", "noise", 3) == b / "set/img02/noise_3.png"
    assert merged.path("a/set/img01", "blur", 0) == a / "set/img01/pristine.png"
    assert read_ranked_sets([a]).references == read_ranked_set(a).references


def test_ranked_sets_that_cannot_train_together_fail_in_one_line(tmp_path):
    a = make_ranked_set(tmp_path / "a", references=1, groups=("blur", "noise"), levels=3)
    other = make_ranked_set(tmp_path / "c", references=1, groups=("blur",), levels=3)
    with pytest.raises(UserError, match="groups/levels differ"):
        read_ranked_sets([a, other])
    twin = make_ranked_set(tmp_path / "x" / "a", references=1, groups=("blur", "noise"), levels=3)
    with pytest.raises(UserError, match="distinct folder names"):
        read_ranked_sets([a, twin])
