"""The efficient all-pairs batch ranking loss of RankIQA (Liu et al., ICCV 2017).

A batch is forwarded once through a single network; the hinge loss of *every* ranked pair
in the batch is then back-propagated. Compared with a two-branch Siamese network this
needs ``n`` forward passes per batch instead of one per pair.
"""

from __future__ import annotations

import torch
from torch import nn

PAIR_MODES = ("reference", "group")
REDUCTIONS = ("batch", "pairs", "sum", "none")


def ranking_pair_mask(
    groups: torch.Tensor,
    levels: torch.Tensor,
    references: torch.Tensor | None = None,
    pairs: str = "reference",
) -> torch.Tensor:
    """Boolean N×N matrix, ``True`` where sample ``i`` should rank above sample ``j``.

    ``i`` is better than ``j`` when both belong to the same group (one distortion type of the
    batch layout), ``levels[i] < levels[j]`` (level 0 = pristine, higher = more distorted) and,
    with ``pairs="reference"``, both come from the same reference image. ``pairs="group"`` also
    pairs images of different references within a group (as the released LIVE code does).

    ``levels`` may also be N×D: the level of each of D distortions applied in turn (a multiply
    distorted group, partially ordered). Then ``i`` is better than ``j`` only when
    ``levels[i] <= levels[j]`` in every column and the rows differ, so pairs whose order is
    unknown (more blur but less noise) are never ranked.

    Example:
        >>> g, r = torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long)
        >>> ranking_pair_mask(g, torch.tensor([[0, 0], [2, 0], [0, 1]]), r).int().tolist()
        [[0, 1, 1], [0, 0, 0], [0, 0, 0]]
    """
    if pairs not in PAIR_MODES:
        raise ValueError(f"pairs must be one of {PAIR_MODES}, got {pairs!r}")
    if groups.dim() != 1 or levels.dim() not in (1, 2) or levels.shape[0] != groups.shape[0]:
        raise ValueError(
            f"groups must be 1-D and levels 1-D or 2-D with as many rows, got "
            f"{tuple(groups.shape)} and {tuple(levels.shape)}"
        )
    if levels.dim() == 1:
        worse = levels[:, None] < levels[None, :]
    else:
        no_less = (levels[:, None, :] <= levels[None, :, :]).all(dim=-1)
        worse = no_less & (levels[:, None, :] != levels[None, :, :]).any(dim=-1)
    mask = (groups[:, None] == groups[None, :]) & worse
    if pairs == "reference":
        if references is None:
            raise ValueError('pairs="reference" needs the references of the samples')
        if references.shape != groups.shape:
            raise ValueError(
                f"references must have shape {tuple(groups.shape)}, got {tuple(references.shape)}"
            )
        mask &= references[:, None] == references[None, :]
    return mask


def ranking_hinge_loss(
    scores: torch.Tensor,
    groups: torch.Tensor,
    levels: torch.Tensor,
    references: torch.Tensor | None = None,
    margin: float = 10.0,
    pairs: str = "reference",
    reduction: str = "batch",
) -> torch.Tensor:
    r"""All-pairs hinge ranking loss of a batch.

    .. math::
        L = \frac{1}{Z} \sum_{(i, j):\ i \succ j} \max\bigl(0,\ m - (y_i - y_j)\bigr)

    over the pairs of :func:`ranking_pair_mask` (``i`` better than ``j``; higher score = better).

    Args:
        scores: network outputs ``y``, shape (N,).
        groups: group label per sample, shape (N,). A pristine image used by several groups
            appears once per group, each copy with that group's label.
        levels: distortion level per sample (0 = pristine, larger = worse), shape (N,); or
            (N, D) levels of D stacked distortions (partial order, see
            :func:`ranking_pair_mask`).
        references: reference-image label per sample, shape (N,); needed for
            ``pairs="reference"``.
        margin: hinge margin ``m`` (10 in the authors' code).
        pairs: ``"reference"`` (same reference only, the paper) or ``"group"``.
        reduction: ``"batch"`` divides the sum by N (the authors' code), ``"pairs"`` by the
            number of pairs, ``"sum"`` returns the sum, ``"none"`` the N×N matrix of pair losses
            (zero outside the pair mask).

    Returns:
        The loss (a scalar, or N×N for ``reduction="none"``).

    Examples
    --------
    One reference, one group, levels 0 (pristine) to 2: three ranked pairs.

    >>> groups, levels, refs = torch.zeros(3), torch.tensor([0, 1, 2]), torch.zeros(3)
    >>> ranking_hinge_loss(torch.tensor([30.0, 20.0, 10.0]), groups, levels, refs)
    tensor(0.)
    >>> ranking_hinge_loss(torch.tensor([10.0, 20.0, 30.0]), groups, levels, refs)
    tensor(23.3333)
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if scores.dim() != 1 or scores.shape != groups.shape:
        raise ValueError(
            f"scores must have shape {tuple(groups.shape)} (one per sample), "
            f"got {tuple(scores.shape)}"
        )
    mask = ranking_pair_mask(groups, levels, references, pairs).to(scores.device)
    hinge = torch.relu(margin - (scores[:, None] - scores[None, :]))
    losses = torch.where(mask, hinge, torch.zeros_like(hinge))
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "batch":
        return total / max(scores.numel(), 1)
    if reduction == "pairs":
        return total / mask.sum().clamp(min=1).to(total.dtype)
    return total


def ranking_accuracy(
    scores: torch.Tensor,
    groups: torch.Tensor,
    levels: torch.Tensor,
    references: torch.Tensor | None = None,
    pairs: str = "reference",
) -> tuple[int, int]:
    """(correctly ordered pairs, pairs): pairs ``i ≻ j`` with ``scores[i] > scores[j]``."""
    mask = ranking_pair_mask(groups, levels, references, pairs).to(scores.device)
    correct = (scores[:, None] > scores[None, :]) & mask
    return int(correct.sum()), int(mask.sum())


class RankingHingeLoss(nn.Module):
    """Module form of :func:`ranking_hinge_loss`.

    Examples
    --------
    >>> criterion = RankingHingeLoss(margin=10.0, pairs="reference")
    >>> scores = torch.tensor([5.0, 1.0], requires_grad=True)
    >>> loss = criterion(scores, torch.zeros(2), torch.tensor([0, 1]), torch.zeros(2))
    >>> loss.backward(); loss.item(), scores.grad.tolist()
    (3.0, [-0.5, 0.5])
    """

    def __init__(self, margin: float = 10.0, pairs: str = "reference", reduction: str = "batch"):
        super().__init__()
        if pairs not in PAIR_MODES:
            raise ValueError(f"pairs must be one of {PAIR_MODES}, got {pairs!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.margin = margin
        self.pairs = pairs
        self.reduction = reduction

    def forward(
        self,
        scores: torch.Tensor,
        groups: torch.Tensor,
        levels: torch.Tensor,
        references: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return ranking_hinge_loss(
            scores, groups, levels, references, self.margin, self.pairs, self.reduction
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, pairs={self.pairs!r}, reduction={self.reduction!r}"
