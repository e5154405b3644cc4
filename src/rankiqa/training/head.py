"""Train a stats head on a frozen backbone from feature caches (``rankiqa train-head``).

The task of the packaged default model: a :class:`~rankiqa.models.heads.StatsHead` learns
opinion scores (MSE on the model's bounded 0-100 output, in units of the training MOS spread)
and, in the same loss, RankIQA's all-pairs hinge on ranked sets of other references — on
feature caches (:mod:`rankiqa.training.features`), so a step costs microseconds. A seeded part
of the training images chooses the best epoch; ``members`` heads from different seeds merge
exactly into one (:func:`~rankiqa.models.heads.merge_stats_heads`); the result is a model file
that scores images like any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr

from rankiqa.core.errors import UserError
from rankiqa.core.model_file import scale_scores
from rankiqa.losses import ranking_hinge_loss
from rankiqa.models import build_model
from rankiqa.models.heads import StatsHead, merge_stats_heads
from rankiqa.training.features import FeatureCache
from rankiqa.training.options import HeadConfig

SQUASHED = {"squash": "logistic"}

#: a ranked cache of the opinion-scored photos, with each reference's photo (its dataset index
#: in the scored cache): :func:`scored_references`
ScoredRanked = tuple[FeatureCache, dict[str, int]]


def scored_references(cache: FeatureCache, ranked: FeatureCache, name: str) -> dict[str, int]:
    """The photo of ``cache`` (its dataset index) that each reference of
    ``ranked`` was distorted from: ``rankiqa distort`` names a reference by its path below the
    folder it read, without suffix, so ``trainingImages/t1`` is the photo whose id ends in
    ``trainingImages/t1.bmp`` (whole path components). A reference matching no photo, or
    several, is an error naming ``name``.

    >>> from types import SimpleNamespace as NS
    >>> photos = NS(rows=[{"id": "Images/10.bmp", "flip": 0}, {"id": "Images/t/1.JPG", "flip": 0}],
    ...             rows_of=lambda flip: {0: 0, 1: 1})
    >>> scored_references(photos, NS(rows=[{"reference": "t/1"}, {"reference": "10"}]), "set")
    {'t/1': 1, '10': 0}
    """
    paths = {i: PurePosixPath(cache.rows[k]["id"]).with_suffix("").parts
             for i, k in cache.rows_of(0).items()}
    found: dict[str, int] = {}
    for ref in dict.fromkeys(r["reference"] for r in ranked.rows):
        parts = PurePosixPath(ref).parts
        photos = [i for i, p in paths.items() if p[len(p) - len(parts):] == parts]
        if len(photos) != 1:
            raise UserError(f"{name}: reference {ref!r} matches {len(photos)} photos of the "
                            "opinion-scored cache (it must name exactly one)")
        found[ref] = photos[0]
    return found


class HeadTask:
    """One head on one training part (a :class:`~rankiqa.training.trainer.Task`)."""

    kind, select = "head", "val_srocc"

    def __init__(self, config: HeadConfig, cache: FeatureCache, ranked: list[FeatureCache],
                 train: np.ndarray, val: np.ndarray, seed: int, scored: Sequence[ScoredRanked] = ()):
        self.config, self.cache, self.seed = config, cache, seed
        self.train_idx, self.val_idx = train, val
        self.targets = np.array([float(r["target"]) for r in cache.rows if not int(r["flip"])])
        self.rows = [cache.rows_of(0), cache.rows_of(1)]
        self.mu = float(self.targets[train].mean())
        self.sd = float(self.targets[train].std()) or 1.0
        self.score = {"offset": self.mu, "scale": self.sd, **SQUASHED}
        torch.manual_seed(seed)
        self.model = StatsHead((cache.stats.shape[1] // 2,), hidden=config.hidden)
        seen = [self.rows[f][i] for i in train for f in (0, 1) if i in self.rows[f]]
        with torch.no_grad():  # a fixed standardisation: the training part's statistics
            self.model.norm.running_mean.copy_(cache.stats[seen].mean(0))
            self.model.norm.running_var.copy_(cache.stats[seen].var(0) + 1e-6)
        self.ranked = [(c, g) for c in ranked for g in c.ranked_groups()]
        own = set(train.tolist())  # never a test, validation or lockbox photo's sequences
        self.ranked += [(c, g) for c, photo in scored for g in c.ranked_groups()
                        if photo[c.rows[g[0]]["reference"]] in own]
        self.steps_per_epoch = max(1, len(train) // config.batch_size)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        self.model.norm.eval()  # the standardisation stays fixed
        return self.model.fc(self.model.norm(z)).squeeze(1)

    def scores(self, cache: FeatureCache, rows: list[int]) -> torch.Tensor:
        """Raw head outputs (before the 0-100 squash) of rows of a cache."""
        return self.head(cache.stats[rows])

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr,
                                weight_decay=self.config.weight_decay)
        total = self.config.epochs * self.steps_per_epoch
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)

    def batches(self, start: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[int]]]:
        rng = np.random.default_rng([self.seed, 7])
        b, step = self.config.batch_size, 0
        while True:
            order = rng.permutation(self.train_idx)
            for s in range(self.steps_per_epoch):
                idx = order[s * b : (s + 1) * b]
                flips = rng.integers(2, size=len(idx))
                groups = rng.integers(len(self.ranked), size=self.config.rank_groups) \
                    if self.ranked else []
                step += 1
                if step > start:
                    yield idx, flips, [int(g) for g in groups]

    def loss(self, step: int, batch: Any) -> dict[str, torch.Tensor]:
        idx, flips, groups = batch
        terms: dict[str, torch.Tensor] = {}
        total = torch.zeros(())
        if self.config.mos_weight > 0:  # 0: ranking alone, no opinion-scored row runs
            rows = [self.rows[f].get(i, self.rows[0][i]) for i, f in zip(idx, flips, strict=True)]
            pred = scale_scores(self.scores(self.cache, rows), self.score)
            y = torch.tensor(self.targets[idx], dtype=torch.float32)
            terms["mos_loss"] = F.mse_loss(pred / self.sd, y / self.sd)
            total = self.config.mos_weight * terms["mos_loss"]
        if groups and self.config.rank_weight > 0:
            rank = 0.0
            for g in groups:
                ranked, seq = self.ranked[g]
                s = self.scores(ranked, seq)
                zeros = torch.zeros(len(seq), dtype=torch.long)
                rank = rank + ranking_hinge_loss(s, zeros, torch.arange(len(seq)), zeros,
                                                 margin=self.config.margin, reduction="pairs")
            terms["rank_loss"] = rank / len(groups)
            total = total + self.config.rank_weight * terms["rank_loss"]
        terms["loss"] = total
        return terms

    def predict(self, idx: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            raw = self.scores(self.cache, [self.rows[0][i] for i in idx])
            return scale_scores(raw, self.score).numpy()

    def merged(self, states: list[dict[str, torch.Tensor]]) -> torch.nn.Module:
        """One head from the members' best states (an exact merge of the ensemble)."""
        merged = StatsHead((self.cache.stats.shape[1] // 2,),
                           hidden=self.config.hidden * len(states))
        merged.load_state_dict(merge_stats_heads(states))
        self.model = merged.eval()
        return self.model

    def network(self) -> torch.nn.Module:
        """The head on its frozen backbone: the network of the model file."""
        head = self.model
        hidden = head.fc[0].out_features if len(head.fc) > 1 else 0
        net = build_model(self.cache.meta["backbone"], "stats", self.cache.meta["weights"],
                          head_hidden=None if hidden == 256 else hidden)
        net.head.load_state_dict(head.state_dict())
        return net

    def validate(self, step: int) -> dict[str, float]:
        """SROCC/PLCC on the validation part; ``{}`` without one (the trainer keeps the last
        step)."""
        if not len(self.val_idx):
            return {}
        p = self.predict(self.val_idx)
        return {"val_srocc": float(spearmanr(p, self.targets[self.val_idx])[0]),
                "val_plcc": float(pearsonr(p, self.targets[self.val_idx])[0])}


def pair_accuracy(scores: torch.Tensor, groups: list[list[int]]) -> float:
    """Share of (better, worse) pairs of each ranked sequence that the scores order right."""
    right = total = 0
    for seq in groups:
        s = scores[seq]
        for a in range(len(seq)):
            right += int((s[a] > s[a + 1 :]).sum())
            total += len(seq) - a - 1
    return right / max(total, 1)
