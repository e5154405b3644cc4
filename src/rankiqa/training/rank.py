"""RankIQA stage 1: train a quality network on ranked sets with the all-pairs batch loss.

:class:`RankTask` is the task of the :class:`~rankiqa.training.trainer.Trainer` (single process
or under ``torchrun`` with DistributedDataParallel); it validates on held-out references
(pairwise ranking accuracy and the mean Spearman correlation between score and level per
(reference, distortion) sequence). :func:`train_rank` runs it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from rankiqa.core.devices import resolve_device
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.seeding import seed_everything
from rankiqa.data.ranked import (
    BatchLayout,
    EvalDataset,
    RankedSet,
    check_layout,
    eval_items,
    ranked_loader,
    read_ranked_set,
    split_references,
)
from rankiqa.losses import RankingHingeLoss, ranking_accuracy
from rankiqa.models import build_model, model_from_config
from rankiqa.training.distributed import (
    DistInfo,
    all_reduce_sum,
    cleanup_distributed,
    init_distributed,
    wrap_ddp,
)
from rankiqa.training.optim import build_optimizer, build_scheduler
from rankiqa.training.options import RANK_LR, RANK_LR_DEFAULT, RankTrainConfig
from rankiqa.training.run_folder import open_run
from rankiqa.training.trainer import Trainer, resumed_config

#: options that may differ when resuming (everything else comes from the checkpoint)
RESUMABLE_OVERRIDES = ("iters", "val_every", "log_every", "workers", "device", "progress", "resume")


def resolve_layout(text: str, ranked: RankedSet) -> tuple[BatchLayout, str]:
    """The batch layout and its family (``live``/``tid``/``custom``, which sets the default lr).

    ``auto`` picks ``live`` for sets of at most 4 groups (or a ``live`` preset), ``tid`` for sets
    with at least 9 groups of at least 4 levels, else all groups × all levels × 1 reference.
    """
    key = text.strip().lower()
    if key in BatchLayout.PRESETS:
        return BatchLayout.parse(key), key
    if key != "auto":
        return BatchLayout.parse(text), "custom"
    min_levels = min(len(v) for v in ranked.levels.values())
    n_groups = len(ranked.groups)
    preset = ranked.preset.get("preset", ranked.preset.get("name"))
    live_like = preset == "live" or n_groups == 4
    if live_like and min_levels >= 5 and len(ranked.references) >= 2:
        return BatchLayout.parse("live"), "live"
    if n_groups >= 9 and min_levels >= 4:
        return BatchLayout.parse("tid"), "tid"
    return BatchLayout(min(n_groups, 9), min_levels + 1, 1), "custom"


# ----------------------------------------------------------------------------- validation


@torch.no_grad()
def score_images(
    model: nn.Module, dataset: EvalDataset, device: torch.device, batch_size: int = 32, workers=0
) -> np.ndarray:
    """Scores of every image of ``dataset`` (model in eval mode for the call)."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    scores = [model(batch.to(device)).float().cpu() for batch in loader]
    model.train(was_training)
    return torch.cat(scores).numpy() if scores else np.zeros(0)


def ranking_metrics(
    scores: np.ndarray, references: np.ndarray, groups: np.ndarray, levels: np.ndarray, margin=10.0
) -> dict[str, float]:
    """Validation metrics of per-image scores.

    Each (reference, group ≥ 0) sequence is the reference's pristine image (group ``-1``) plus
    its distorted levels. Returns ``pair_acc`` (fraction of pairs of a sequence ordered like the
    levels), ``srcc`` (mean Spearman correlation between score and −level over sequences; a
    constant-score sequence counts as 0) and ``hinge`` (mean hinge per pair with ``margin``).
    ``levels`` may be N×D stage levels (partially ordered groups): pairs are then those of
    :func:`rankiqa.losses.ranking_pair_mask` and ``srcc`` uses −(sum of the stage levels).
    """
    from scipy.stats import spearmanr

    correct = total = 0
    hinge = 0.0
    srccs = []
    for ref in np.unique(references):
        in_ref = references == ref
        pristine = np.flatnonzero(in_ref & (groups == -1))
        for group in np.unique(groups[in_ref & (groups >= 0)]):
            idx = np.concatenate([pristine, np.flatnonzero(in_ref & (groups == group))])
            s, lv = scores[idx], levels[idx].reshape(len(idx), -1)
            better = (lv[:, None] <= lv[None, :]).all(-1) & (lv[:, None] != lv[None, :]).any(-1)
            lv = lv.sum(axis=1)
            diff = s[:, None] - s[None, :]
            correct += int((better & (diff > 0)).sum())
            total += int(better.sum())
            hinge += float(np.maximum(0.0, margin - diff)[better].sum())
            rho = spearmanr(s, -lv).statistic if np.ptp(s) > 0 else 0.0
            srccs.append(0.0 if not np.isfinite(rho) else float(rho))
    return {
        "pair_acc": correct / total if total else float("nan"),
        "srcc": float(np.mean(srccs)) if srccs else float("nan"),
        "hinge": hinge / total if total else float("nan"),
    }


def validate(
    model: nn.Module,
    ranked: RankedSet,
    crop_size: int,
    device: torch.device,
    margin: float = 10.0,
    workers: int = 0,
) -> dict[str, float]:
    """Ranking metrics of ``model`` on every image of ``ranked`` (one center crop each)."""
    items = eval_items(ranked)
    scores = score_images(model, EvalDataset(items, crop_size), device, workers=workers)
    return ranking_metrics(
        scores,
        np.array([i.reference for i in items]),
        np.array([i.group for i in items]),
        np.array([i.level for i in items]),
        margin,
    )


# ----------------------------------------------------------------------------- training


def _check_crop_size(model: nn.Module, crop_size: int) -> None:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, crop_size, crop_size))
    except RuntimeError:
        raise UserError(
            f"--crop-size {crop_size} is too small for backbone {model.config['backbone']!r}"
        ) from None
    finally:
        model.train(was_training)


def _set_dropout(model: nn.Module, p: float) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p


class RankTask:
    """Ranking training on a ranked set (a :class:`~rankiqa.training.trainer.Task`)."""

    kind, select = "rank", ("pair_acc", "srcc")
    columns = ("loss", "pair_acc", "lr", "srcc", "hinge")  # as in docs/ranking.md

    def __init__(self, config: RankTrainConfig, state: dict | None, dist: DistInfo):
        self.config, self.seed, self.dist = config, config.seed, dist
        self.device = resolve_device(config.device, dist.local_rank)
        ranked = read_ranked_set(config.data)
        self.train_refs, self.val_refs = split_references(
            ranked.references, config.val_fraction, config.seed
        )
        self.train_set, self.val_set = ranked.subset(self.train_refs), ranked.subset(self.val_refs)
        self.layout, family = resolve_layout(config.layout, ranked)
        check_layout(self.layout, self.train_set, dist.world_size)
        self.lr = config.lr if config.lr is not None else RANK_LR.get(family, RANK_LR_DEFAULT)
        seed_everything(config.seed)
        if state is not None:
            model = model_from_config(state["model_config"])
            model.load_state_dict(state["model"])
        else:
            model = build_model(
                config.backbone, config.head, config.backbone_weights, input_size=config.crop_size
            )
        if config.dropout is not None:
            _set_dropout(model, config.dropout)
        self.crop_size = model.input_size
        _check_crop_size(model, self.crop_size)
        self.model = model.to(self.device)
        self.net = wrap_ddp(model, self.device)
        self.criterion = RankingHingeLoss(config.margin, config.pairs, config.reduction)
        self.validate_first = bool(self.val_refs)  # the starting point of the curves
        self.info = {"layout": str(self.layout), "lr": self.lr, "rank": dist.rank}
        self.counts = [0, 0]  # pairs ordered right, pairs, since the last train row

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        c = self.config
        opt = build_optimizer(
            self.model, c.optimizer, self.lr, c.momentum, c.weight_decay, c.head_lr_mult
        )
        return opt, build_scheduler(opt, c.lr_step, c.lr_gamma)

    def batches(self, start: int) -> Iterator[tuple[torch.Tensor, ...]]:
        c, dist = self.config, self.dist
        return iter(ranked_loader(
            self.train_set, self.layout, c.iters, self.crop_size, seed=c.seed, start=start,
            rank=dist.rank, world_size=dist.world_size, workers=c.workers,
            pin_memory=self.device.type == "cuda",
        ))

    def loss(self, step: int, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        images, groups, levels, refs = batch
        scores = self.net(images.to(self.device, non_blocking=True))
        to = self.device
        loss = self.criterion(scores, groups.to(to), levels.to(to), refs.to(to))
        correct, pairs = ranking_accuracy(scores.detach(), groups, levels, refs, self.config.pairs)
        self.counts = [self.counts[0] + correct, self.counts[1] + pairs]
        return {"loss": loss}

    def train_metrics(self) -> dict[str, float]:
        """Pair accuracy of the training batches since the last row, over every process."""
        stats = torch.tensor(self.counts, dtype=torch.float64, device=self.device)
        right, total = all_reduce_sum(stats).tolist()
        self.counts = [0, 0]
        return {"pair_acc": right / total if total else float("nan")}

    def validate(self, step: int) -> dict[str, float]:
        if not self.val_refs:
            return {}
        return validate(self.model, self.val_set, self.crop_size, self.device, self.config.margin)


def train_rank(
    config: RankTrainConfig, on_step: Callable[[int, float], None] | None = None
) -> dict[str, Any]:
    """Train a ranking network; returns a summary (final/best validation metrics, timings).

    ``on_step(step, loss)`` is called after every optimizer step (e.g. to stop early).
    """
    dist = init_distributed()
    try:
        return _train(config, dist, on_step)
    finally:
        cleanup_distributed()


def _train(
    config: RankTrainConfig, dist: DistInfo, on_step: Callable[[int, float], None] | None
) -> dict[str, Any]:
    state = open_run(config.out, "rank", config.resume)
    if state is not None:
        config = resumed_config(config, state, RESUMABLE_OVERRIDES + ("data", "out"))
    if config.pairs not in ("reference", "group"):
        raise UserError(f"--pairs: expected reference or group, got {config.pairs!r}")
    for name in ("iters", "val_every", "log_every", "lr_step"):
        if int(getattr(config, name)) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be a positive integer")
    if config.workers < 0:
        raise UserError("--workers must be 0 (load in the main process) or more")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise UserError(f"--lr must be a finite number > 0, got {config.lr}")
    task = RankTask(config, state, dist)
    args = dataclasses.asdict(config)
    if dist.is_main:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(config.out) / "run.json", {
            "args": args, "layout": str(task.layout), "lr": task.lr,
            "train_references": task.train_refs, "val_references": task.val_refs,
            "world_size": dist.world_size, "model_config": task.model.config,
        })
    extra = {"args": args, "layout": str(task.layout), "val_references": task.val_refs}
    trainer = Trainer(task, config.out, config.iters, config.val_every, config.log_every,
                      resume=state or False, progress=config.progress, extra=extra,
                      on_step=on_step)
    return trainer.fit()


__all__ = [
    "RankTask",
    "ranking_metrics",
    "resolve_layout",
    "score_images",
    "train_rank",
    "validate",
]
