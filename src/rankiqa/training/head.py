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

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.model_file import build_metadata, save_model_file, scale_scores
from rankiqa.losses import ranking_hinge_loss
from rankiqa.models import build_model
from rankiqa.models.heads import StatsHead, merge_stats_heads
from rankiqa.training.features import FeatureCache, check_compatible, read_features
from rankiqa.training.options import HeadConfig
from rankiqa.training.trainer import Trainer

SQUASHED = {"squash": "logistic"}


class HeadTask:
    """One head on one training part (a :class:`~rankiqa.training.trainer.Task`)."""

    kind, select = "head", "val_srocc"

    def __init__(self, config: HeadConfig, cache: FeatureCache, ranked: list[FeatureCache],
                 train: np.ndarray, val: np.ndarray, seed: int):
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
        rows = [self.rows[f].get(i, self.rows[0][i]) for i, f in zip(idx, flips, strict=True)]
        raw = self.scores(self.cache, rows)
        pred = scale_scores(raw, self.score)
        y = torch.tensor(self.targets[idx], dtype=torch.float32)
        mos = F.mse_loss(pred / self.sd, y / self.sd)
        terms = {"mos_loss": mos}
        total = mos
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


def _parts(config: HeadConfig, n: int) -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(name, train, test, lockbox) of every training part the options ask for."""
    if config.split_file is None:
        return [("all", np.arange(n), np.zeros(0, int), False)]
    from rankiqa.data.splits import load_splits

    splits = load_splits(config.split_file)
    count = json.loads(Path(config.split_file).read_text(encoding="utf-8")).get("count")
    if count != n:
        raise UserError(f"--split-file {config.split_file}: made for {count} images, "
                        f"{config.features} has {n}")
    if config.split_index == "all":
        chosen = [s for s in splits if not s.lockbox]
    else:
        try:
            k = int(config.split_index)
        except ValueError:
            raise UserError(f"--split-index: expected K or all, got {config.split_index!r}") from None
        if not 0 <= k < len(splits):
            raise UserError(f"--split-index {k}: {config.split_file} has splits 0..{len(splits) - 1}")
        chosen = [splits[k]]
    return [(f"split{s.index}", np.array(s.train), np.array(s.test), s.lockbox) for s in chosen]


def train_head(config: HeadConfig) -> dict[str, Any]:
    """Train, for each asked training part, ``members`` heads; merge them; test; package.

    Writes ``OUT/PART/member-K/`` (trainer runs), ``OUT/PART/model.safetensors`` and
    ``OUT/results.json`` (per part: validation, test SROCC/PLCC, synthetic pairs; the pooled
    out-of-fold numbers over cross-validation parts).
    """
    if config.members < 1 or config.epochs < 1 or config.batch_size < 1:
        raise UserError("--members, --epochs and --batch-size must be positive")
    if not 0 < config.val_fraction < 1:
        raise UserError(f"--val-fraction must be between 0 and 1, got {config.val_fraction}")
    cache = read_features(config.features)
    if "target" not in cache.rows[0]:
        raise UserError(f"{config.features}: not a cache of an IQA dataset (no opinion scores)")
    ranked = [read_features(p) for p in config.rank_features]
    evalset = read_features(config.eval_rank_features) if config.eval_rank_features else None
    names = [config.features, *config.rank_features] + ([config.eval_rank_features] if evalset else [])
    check_compatible([cache, *ranked] + ([evalset] if evalset else []), names)
    n = len(cache.rows_of(0))
    out = Path(config.out)
    if cache.cut is None:
        task_type = HeadTask
    else:
        from rankiqa.training.top import TopTask

        task_type = TopTask
    results: dict[str, Any] = {"config": asdict(config), "parts": {}}
    pooled_idx, pooled_pred = [], []
    for name, train_all, test, lockbox in _parts(config, n):
        rng = np.random.default_rng([config.seed, 1234])
        perm = rng.permutation(train_all)
        n_val = max(1, int(round(config.val_fraction * len(perm))))
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        heads, members = [], []
        for m in range(config.members):
            task = task_type(config, cache, ranked, train, val, seed=config.seed + m)
            trainer = Trainer(task, out / name / f"member-{m}",
                              iters=config.epochs * task.steps_per_epoch,
                              val_every=task.steps_per_epoch, log_every=task.steps_per_epoch,
                              resume=config.resume, extra={"head_config": asdict(config)})
            summary = trainer.fit()
            trainer.load_best()
            heads.append({k: v.clone() for k, v in task.model.state_dict().items()})
            members.append({"best_step": summary["best"]["step"],
                            "val_srocc": round(summary["best"]["val_srocc"], 4)})
        task.merged(heads)  # predictions of the merged model, same scale
        part: dict[str, Any] = {"members": members, "lockbox": lockbox,
                                "val_srocc": task.validate(0)["val_srocc"],
                                "train": len(train), "val": len(val), "test": len(test)}
        if len(test):
            p = task.predict(test)
            part["test_srocc"] = float(spearmanr(p, task.targets[test])[0])
            part["test_plcc"] = float(pearsonr(p, task.targets[test])[0])
            if not lockbox:
                pooled_idx += test.tolist()
                pooled_pred += p.tolist()
        if evalset is not None:
            with torch.inference_mode():
                scores = task.scores(evalset, list(range(len(evalset.rows))))
                part["pairs"] = pair_accuracy(scores, evalset.ranked_groups())
        part["model"] = str(save_packaged(config, cache, task.network(), task.score, out / name,
                                          {k: v for k, v in part.items() if k != "members"}))
        results["parts"][name] = part
    if len(pooled_idx) > 1:
        y = task.targets[pooled_idx]
        results["pooled"] = {"srocc": float(spearmanr(pooled_pred, y)[0]),
                             "plcc": float(pearsonr(pooled_pred, y)[0]), "n": len(pooled_idx)}
    write_json(out / "results.json", results)
    return results


def save_packaged(config: HeadConfig, cache: FeatureCache, net: torch.nn.Module, score: dict,
                  folder: Path, metrics: dict) -> Path:
    """The trained network as a model file ``FOLDER/model.safetensors``."""
    trainable = ("stats head only (backbone frozen)" if cache.cut is None else
                 f"blocks {cache.cut}.. of the backbone, its head convolution and the stats head "
                 f"(stem and blocks 0..{cache.cut - 1} frozen; batch-norm statistics frozen)")
    metadata = build_metadata(
        net.config,
        cache.meta["input"],
        {**score, "range": [0, 100], "direction": "higher is better"},
        training={"task": "rankiqa train-head", "features": config.features,
                  "rank_features": list(config.rank_features), "members": config.members,
                  "epochs": config.epochs, "rank_weight": config.rank_weight,
                  "trainable": trainable,
                  **({} if cache.cut is None else {"cut": cache.cut, "block_lr": config.block_lr})},
        metrics={k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
        name=config.name,
    )
    return save_model_file(folder / "model.safetensors", net.state_dict(), metadata)
