"""RankIQA stage 1: train a quality network on ranked sets with the all-pairs batch loss.

:func:`train_rank` runs the whole loop (single process or under ``torchrun`` with
DistributedDataParallel), validates on held-out references (pairwise ranking accuracy and the
mean Spearman correlation between score and level per (reference, distortion) sequence),
logs ``metrics.csv`` / ``curves.png`` and writes atomic checkpoints that resume exactly.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from rankiqa.core.checkpoint import save_checkpoint
from rankiqa.core.devices import resolve_device
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.seeding import seed_everything, seed_step
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
from rankiqa.training import runner
from rankiqa.training.checkpoint import training_state
from rankiqa.training.loop import progress_bar, restore, run_loop
from rankiqa.training.options import RANK_LR, RANK_LR_DEFAULT, RankTrainConfig

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


def _config_from_checkpoint(config: RankTrainConfig, state: dict) -> RankTrainConfig:
    saved = dict(state.get("args", {}))
    known = {f.name for f in dataclasses.fields(RankTrainConfig)}
    merged = {k: v for k, v in saved.items() if k in known}
    for key in RESUMABLE_OVERRIDES + ("data", "out"):
        merged[key] = getattr(config, key)
    return RankTrainConfig(**merged)


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


def train_rank(
    config: RankTrainConfig, on_step: Callable[[int, float], None] | None = None
) -> dict[str, Any]:
    """Train a ranking network; returns a summary (final/best validation metrics, timings).

    ``on_step(step, loss)`` is called after every optimizer step (e.g. to stop early).
    """
    dist = runner.init_distributed()
    try:
        return _train(config, dist, on_step)
    finally:
        runner.cleanup_distributed()


def _train(
    config: RankTrainConfig, dist: runner.DistInfo, on_step: Callable[[int, float], None] | None
) -> dict[str, Any]:
    out = Path(config.out)
    ckpt_path = out / "checkpoint.pt"
    state = runner.open_run(out, "rank", config.resume)
    if state is not None:
        config = _config_from_checkpoint(config, state)
    device = resolve_device(config.device, dist.local_rank)
    if config.pairs not in ("reference", "group"):
        raise UserError(f"--pairs: expected reference or group, got {config.pairs!r}")
    for name in ("iters", "val_every", "log_every", "lr_step"):
        if int(getattr(config, name)) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be a positive integer")
    if config.workers < 0:
        raise UserError("--workers must be 0 (load in the main process) or more")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise UserError(f"--lr must be a finite number > 0, got {config.lr}")

    ranked = read_ranked_set(config.data)
    train_refs, val_refs = split_references(ranked.references, config.val_fraction, config.seed)
    train_set, val_set = ranked.subset(train_refs), ranked.subset(val_refs)
    layout, family = resolve_layout(config.layout, ranked)
    check_layout(layout, train_set, dist.world_size)
    lr = config.lr if config.lr is not None else RANK_LR.get(family, RANK_LR_DEFAULT)

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
    crop_size = model.input_size
    _check_crop_size(model, crop_size)
    model.to(device)
    optimizer = runner.build_optimizer(
        model, config.optimizer, lr, config.momentum, config.weight_decay, config.head_lr_mult
    )
    scheduler = runner.build_scheduler(optimizer, config.lr_step, config.lr_gamma)
    step, best = restore(state, optimizer, scheduler)
    net = runner.wrap_ddp(model, device)
    criterion = RankingHingeLoss(config.margin, config.pairs, config.reduction)

    loader = ranked_loader(
        train_set, layout, config.iters, crop_size, seed=config.seed, start=step,
        rank=dist.rank, world_size=dist.world_size, workers=config.workers,
        pin_memory=device.type == "cuda",
    )
    log = runner.MetricsLog(
        out,
        resume_step=step if state else None,
        enabled=dist.is_main,
        columns=("loss", "pair_acc", "lr", "srcc", "hinge"),  # as in docs/ranking.md
    )
    args = dataclasses.asdict(config)
    if dist.is_main:
        write_json(
            out / "run.json",
            {
                "args": args,
                "layout": str(layout),
                "lr": lr,
                "train_references": train_refs,
                "val_references": val_refs,
                "world_size": dist.world_size,
                "model_config": model.config,
            },
        )

    def checkpoint(step: int, metrics: dict[str, float]) -> None:
        payload = training_state(
            "rank",
            model,
            optimizer,
            scheduler,
            step,
            args,
            metrics,
            best,
            layout=str(layout),
            val_references=val_refs,
        )
        save_checkpoint(ckpt_path, payload)
        if metrics and best.get("step") == step:
            save_checkpoint(out / "best.pt", payload)

    window = {"loss": 0.0, "correct": 0, "pairs": 0, "n": 0}
    last_val: dict[str, float] = {}
    started = last_plot = time.perf_counter()
    first_step = step
    if step == 0 and val_refs and dist.is_main:  # the starting point of the curves
        initial = validate(model, val_set, crop_size, device, config.margin)
        log.log(0, "val", **initial)
    runner.barrier()
    net.train()

    def one_step(step: int, batch: tuple[torch.Tensor, ...]) -> float:
        images, groups, levels, refs = batch
        seed_step(config.seed, step, dist.rank)
        images = images.to(device, non_blocking=True)
        scores = net(images)
        loss = criterion(scores, groups.to(device), levels.to(device), refs.to(device))
        reduced = runner.all_reduce_sum(loss.detach().clone()) / dist.world_size
        runner.check_finite(reduced, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()

        correct, pairs = ranking_accuracy(scores.detach(), groups, levels, refs, config.pairs)
        window["loss"] += float(reduced)
        window["correct"] += correct
        window["pairs"] += pairs
        window["n"] += 1
        if on_step is not None:
            on_step(step, float(reduced))
        return float(reduced)

    def log_train(step: int) -> None:
        stats = torch.tensor([window["correct"], window["pairs"]], dtype=torch.float64)
        stats = runner.all_reduce_sum(stats)
        log.log(
            step,
            "train",
            loss=window["loss"] / window["n"],
            pair_acc=float(stats[0] / stats[1]) if stats[1] else float("nan"),
            lr=optimizer.param_groups[0]["lr"],
        )
        window.update(loss=0.0, correct=0, pairs=0, n=0)

    def validate_and_checkpoint(step: int) -> None:
        nonlocal best, last_val, last_plot
        if dist.is_main:
            if val_refs:
                last_val = validate(model, val_set, crop_size, device, config.margin)
                log.log(step, "val", **last_val)
                key = (last_val["pair_acc"], last_val["srcc"])
                if not best or key > (best["pair_acc"], best["srcc"]):
                    best = {"step": step, **last_val}
            checkpoint(step, last_val)
            if step == config.iters or time.perf_counter() - last_plot > 60:
                log.plot()  # throttled: matplotlib is slow next to a tiny model
                last_plot = time.perf_counter()
        runner.barrier()

    timing = run_loop(
        loader,
        step,
        config.iters,
        one_step,
        config.log_every,
        log_train,
        config.val_every,
        validate_and_checkpoint,
        progress_bar(dist.is_main and config.progress, config.iters, step, "train-rank"),
        lambda loss: {"loss": f"{loss:.3f}", **_fmt(last_val)},
        started=started,
    )
    summary = {
        **timing,
        "layout": str(layout),
        "lr": lr,
        "val": last_val,
        "best": best,
        "initial_val": initial if first_step == 0 and val_refs and dist.is_main else {},
        "run_dir": str(out),
        "rank": dist.rank,
    }
    if dist.is_main:
        write_json(out / "summary.json", summary)
    return summary


def _fmt(metrics: dict[str, float]) -> dict[str, str]:
    return {f"val_{k}": f"{v:.3f}" for k, v in metrics.items() if k != "hinge" and math.isfinite(v)}


__all__ = [
    "ranking_metrics",
    "resolve_layout",
    "score_images",
    "train_rank",
    "validate",
]
