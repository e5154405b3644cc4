"""The vectorised batch ranking loss against a plain double loop over pairs."""

from __future__ import annotations

import pytest
import torch

from rankiqa.losses import (
    RankingHingeLoss,
    RegressionLoss,
    ranking_accuracy,
    ranking_hinge_loss,
    ranking_pair_mask,
    regression_loss,
)


def loop_loss(y, groups, levels, refs, margin, pairs, reduction):
    """Reference implementation: an explicit loop over all ordered pairs."""
    total = y.new_zeros(())
    count = 0
    n = len(y)
    for i in range(n):
        for j in range(n):
            if groups[i] != groups[j] or not levels[i] < levels[j]:
                continue
            if pairs == "reference" and refs[i] != refs[j]:
                continue
            total = total + torch.clamp(margin - (y[i] - y[j]), min=0)
            count += 1
    if reduction == "batch":
        return total / n
    if reduction == "pairs":
        return total / max(count, 1)
    return total


def random_batch(seed, n_groups=3, n_levels=4, n_refs=2):
    gen = torch.Generator().manual_seed(seed)
    groups, levels, refs = [], [], []
    for g in range(n_groups):
        for lvl in range(n_levels):
            for r in range(n_refs):
                groups.append(g)
                levels.append(lvl)
                refs.append(int(torch.randint(0, 5, (1,), generator=gen)) if seed % 2 else r)
    perm = torch.randperm(len(groups), generator=gen)
    t = [torch.tensor(v)[perm] for v in (groups, levels, refs)]
    y = torch.randn(len(groups), generator=gen, dtype=torch.float64) * 8
    return y, *t


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pairs", ["reference", "group"])
@pytest.mark.parametrize("reduction", ["batch", "pairs", "sum"])
def test_loss_and_gradient_equal_double_loop(seed, pairs, reduction):
    y, groups, levels, refs = random_batch(seed)
    margin = 10.0 if seed != 2 else 3.0
    y1 = y.clone().requires_grad_(True)
    y2 = y.clone().requires_grad_(True)
    fast = ranking_hinge_loss(y1, groups, levels, refs, margin, pairs, reduction)
    slow = loop_loss(y2, groups, levels, refs, margin, pairs, reduction)
    assert slow.item() > 0
    torch.testing.assert_close(fast, slow)
    fast.backward()
    slow.backward()
    torch.testing.assert_close(y1.grad, y2.grad)


def test_pairs_never_cross_groups_and_respect_references():
    y, groups, levels, refs = random_batch(1, n_groups=4, n_levels=3, n_refs=3)
    for pairs in ("reference", "group"):
        mask = ranking_pair_mask(groups, levels, refs, pairs)
        i, j = mask.nonzero(as_tuple=True)
        assert len(i) > 0
        assert torch.all(groups[i] == groups[j])
        assert torch.all(levels[i] < levels[j])
        if pairs == "reference":
            assert torch.all(refs[i] == refs[j])
    # "group" is a superset of "reference"
    ref_mask = ranking_pair_mask(groups, levels, refs, "reference")
    grp_mask = ranking_pair_mask(groups, levels, refs, "group")
    assert torch.all(grp_mask | ~ref_mask)
    assert grp_mask.sum() > ref_mask.sum()
    # a perturbation of one group's scores leaves the other groups' pair losses unchanged
    per_pair = ranking_hinge_loss(y, groups, levels, refs, reduction="none", pairs="group")
    y2 = y.clone()
    y2[groups == 0] += torch.randn(int((groups == 0).sum()), dtype=y.dtype) * 50
    per_pair2 = ranking_hinge_loss(y2, groups, levels, refs, reduction="none", pairs="group")
    other = (groups[:, None] != 0) | (groups[None, :] != 0)
    torch.testing.assert_close(per_pair[other], per_pair2[other])


def test_zero_loss_when_ordered_with_margin_and_accuracy():
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    levels = torch.tensor([0, 1, 2, 0, 1, 2])
    refs = torch.zeros(6, dtype=torch.long)
    y = torch.tensor([30.0, 15.0, 0.0, 100.0, 80.0, 70.0])
    assert ranking_hinge_loss(y, groups, levels, refs, margin=10).item() == 0.0
    # margin not met between levels 1 and 2 of group 1: (10 - 10)=0, increase margin
    assert ranking_hinge_loss(y, groups, levels, refs, margin=12).item() == pytest.approx(2 / 6)
    assert ranking_accuracy(y, groups, levels, refs) == (6, 6)
    assert ranking_accuracy(-y, groups, levels, refs) == (0, 6)


def test_module_and_bad_arguments():
    y, groups, levels, refs = random_batch(0)
    crit = RankingHingeLoss(margin=5.0, pairs="group", reduction="pairs")
    torch.testing.assert_close(
        crit(y, groups, levels, refs),
        ranking_hinge_loss(y, groups, levels, refs, 5.0, "group", "pairs"),
    )
    assert "margin=5.0" in repr(crit)
    with pytest.raises(ValueError, match="references"):
        ranking_hinge_loss(y, groups, levels, None, pairs="reference")
    with pytest.raises(ValueError, match="pairs"):
        RankingHingeLoss(pairs="all")
    with pytest.raises(ValueError, match="scores"):
        ranking_hinge_loss(y[:-1], groups, levels, refs)


def test_regression_losses():
    pred = torch.tensor([1.0, 2.0, 4.0])
    target = torch.tensor([1.0, 0.0, 1.0])
    assert regression_loss(pred, target, "euclidean").item() == pytest.approx((4 + 9) / 6)
    assert regression_loss(pred, target, "l1").item() == pytest.approx(5 / 3)
    assert RegressionLoss("smooth_l1")(pred, target).item() == pytest.approx((1.5 + 2.5) / 3)
    with pytest.raises(ValueError, match="loss"):
        regression_loss(pred, target, "l3")


@pytest.mark.parametrize("pairs", ["reference", "group"])
def test_stage_levels_rank_only_dominated_pairs(pairs):
    """N×D levels (multiply distorted groups): the loss equals a loop over the pairs where one
    image has at most the other's level of every distortion, and no other pair."""
    gen = torch.Generator().manual_seed(5)
    n = 40
    groups = torch.randint(0, 2, (n,), generator=gen)
    levels = torch.randint(0, 4, (n, 2), generator=gen)
    refs = torch.randint(0, 3, (n,), generator=gen)
    y = torch.randn(n, generator=gen, dtype=torch.float64) * 8

    def dominated(i, j):
        a, b = levels[i].tolist(), levels[j].tolist()
        return a != b and all(x <= z for x, z in zip(a, b, strict=True))

    expected = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(n):
            same_ref = pairs == "group" or refs[i] == refs[j]
            expected[i, j] = bool(groups[i] == groups[j] and same_ref and dominated(i, j))
    mask = ranking_pair_mask(groups, levels, refs, pairs)
    assert torch.equal(mask, expected) and 0 < int(mask.sum()) < int(
        (groups[:, None] == groups).sum()
    )
    hinge = torch.clamp(10.0 - (y[:, None] - y[None, :]), min=0)
    torch.testing.assert_close(
        ranking_hinge_loss(y, groups, levels, refs, pairs=pairs, reduction="sum"),
        hinge[expected].sum(),
    )
    # one column is the plain level order
    torch.testing.assert_close(
        ranking_pair_mask(groups, levels[:, :1], refs, pairs),
        ranking_pair_mask(groups, levels[:, 0], refs, pairs),
    )
    with pytest.raises(ValueError, match="levels 1-D or 2-D"):
        ranking_pair_mask(groups, levels[:-1], refs, pairs)
