"""RankIQA+FT: fine-tune one branch of a (ranking-pretrained) network on opinion scores.

The network regresses the dataset's scores rescaled to 0–100, higher = better (docs/contracts.md contract 3), so
a fine-tuned network's output is the quality score. Training takes random ``crop_size`` crops
of images resized so that their shorter side is ``resize`` (contract 4); validation pools
``val_crops`` views per image of the validation part (the split's official one, else
``val_fraction`` of the training part), which alone chooses ``best.pt``; the test part is
evaluated once, at the end, with ``best.pt``. Every per-iteration random choice (which
images, where the crops go, dropout) derives from (seed, iteration), so ``resume`` continues a
run exactly as if it had not been interrupted.

Initialisation (``init``):

* ``imagenet``: ImageNet backbone weights (``backbone_weights`` file, else torchvision's,
  downloaded when online), new head;
* ``scratch``: random weights;
* a ``train-rank`` checkpoint (``RUN/best.pt``): backbone and head of the ranking network.
  The ranking head's output has an arbitrary scale, so by default (``head_init="calibrate"``)
  its last linear layer is rescaled by the least-squares fit ``target ≈ a·score + b`` on the
  training images (center crops), with the slope kept positive (see :func:`calibration`): the
  network starts as the ranking model mapped linearly onto 0–100, keeping all it learnt.
  ``keep`` leaves it as is, ``reset`` re-initialises it.

For new heads (imagenet/scratch) the last layer's bias starts at the mean training target.

Ranking kept during fine-tuning (the TPAMI version of RankIQA): with ``rank_data`` (folders
made by ``rankiqa distort``, read as one set) every step also draws a ranked batch
(``rank_layout``: distortion groups × levels × references, crops of ``crop_size``), forwards it
in the same pass as the opinion-score batch and adds ``rank_weight`` × the all-pairs hinge loss
(margin ``rank_margin`` in score units, averaged over the pairs) to the regression loss, so the
network cannot forget how to order distortions while it learns the opinion scores.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from rankiqa.core.checkpoint import load_checkpoint
from rankiqa.core.devices import resolve_device
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.preprocess import parse_pooling
from rankiqa.core.seeding import seed_everything
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.iqa.dataset import IQAImages, TrainBatches, subset_images
from rankiqa.data.ranked import BatchLayout, ranked_loader, read_ranked_sets
from rankiqa.data.splits import Split, carve_validation, choose_splits, random_splits, save_splits
from rankiqa.evaluation.metrics import iqa_metrics
from rankiqa.evaluation.protocol import predict
from rankiqa.losses.ranking import RankingHingeLoss
from rankiqa.losses.regression import REGRESSION_LOSSES, get_regression_loss
from rankiqa.models.head_specs import any_size_heads, head_spec
from rankiqa.training.optim import build_optimizer, build_scheduler
from rankiqa.training.options import (
    FINETUNE_LR,
    FINETUNE_LR_DEFAULT,
    HEAD_INITS,
    FinetuneConfig,
)
from rankiqa.training.run_folder import open_run
from rankiqa.training.trainer import Trainer, resumed_config

LOSSES = tuple(REGRESSION_LOSSES)


RESUMABLE_OVERRIDES = (
    "iters",
    "val_every",
    "log_every",
    "workers",
    "device",
    "progress",
    "resume",
    "cache",
)


def loss_fn(kind: str):
    """The regression loss ``kind`` (see :data:`rankiqa.losses.REGRESSION_LOSSES`)."""
    return get_regression_loss(kind)


def last_linear(model: nn.Module) -> nn.Linear:
    """The head's final ``Linear(·, 1)`` layer."""
    linears = [m for m in model.head.modules() if isinstance(m, nn.Linear)]
    if not linears or linears[-1].out_features != 1:
        raise UserError("the model's head does not end in a Linear(·, 1) layer")
    return linears[-1]


def _with_validation(config: FinetuneConfig, table, split: Split) -> Split:
    """``split`` with a validation part for model selection: its own (official) one if it has
    one, else ``val_fraction`` of the training part; the test part is left untouched."""
    if split.val or config.val_fraction == 0:
        overlap = set(split.val) & (set(split.train) | set(split.test))
        if overlap:
            raise UserError(
                f"the split's validation part shares {len(overlap)} images with train/test"
            )
        return split
    train, val = carve_validation(table, split.train, config.val_fraction, config.seed)
    return Split(train, split.test, index=split.index, seed=split.seed, val=val)


def _choose_split(config: FinetuneConfig, table, out: Path) -> Split:
    """The train / validation / test parts of this run (see :func:`_with_validation`)."""
    if sum(map(bool, (config.split_file, config.official_split, config.all_images))) > 1:
        raise UserError("give only one of --split-file, --official-split and --all-images")
    if config.all_images:
        return Split(train=tuple(range(len(table))), test=())
    chosen = choose_splits(table, config.split_file, config.split_index, config.official_split)
    if chosen:
        return _with_validation(config, table, chosen[0])
    split = _with_validation(
        config, table, random_splits(table, 1, config.test_fraction, config.seed)[0]
    )
    save_splits(
        out / "split.json",
        table,
        [split],
        seed=config.seed,
        test_fraction=config.test_fraction,
        val_fraction=config.val_fraction,
        by_reference=table.synthetic,
    )
    return split


def build_initial_model(config: FinetuneConfig, state: dict | None):
    """The network to fine-tune and how it was initialised: ``(model, mode)``, where mode is
    ``resume`` (from ``state``), ``rank`` (a train-rank checkpoint) or ``new`` (imagenet/scratch)."""
    from rankiqa.models import build_model, model_from_config

    if state is not None:  # resuming
        model = model_from_config(state["model_config"])
        model.load_state_dict(state["model"])
        return model, "resume"
    if config.init == "imagenet":
        weights = config.backbone_weights or "imagenet"
        return build_model(
            config.backbone, config.head, weights, input_size=config.crop_size
        ), "new"
    if config.init == "scratch":
        if config.backbone_weights:
            raise UserError("--init scratch takes no --backbone-weights")
        return build_model(config.backbone, config.head, None, input_size=config.crop_size), "new"
    path = Path(config.init)
    if not path.exists():
        raise UserError(
            f"--init {config.init}: expected imagenet, scratch or a train-rank checkpoint file"
        )
    rank = load_checkpoint(path)
    model_config = dict(rank["model_config"])
    if config.crop_size:
        model_config["input_size"] = int(config.crop_size)
    model = model_from_config(model_config)
    try:
        model.load_state_dict({k.removeprefix("module."): v for k, v in rank["model"].items()})
    except RuntimeError as exc:
        raise UserError(
            f"{path}: checkpoint weights do not match its model_config ({exc})"
        ) from None
    return model, "rank"


def init_head(model, how: str, mode: str, train_images: IQAImages, crop_size: int) -> dict:
    """Calibrate / reset the last layer (see the module docstring); returns what was done."""
    layer = last_linear(model)
    targets = np.asarray(train_images.table.targets, dtype=np.float64)
    if mode == "new" or (mode == "rank" and how == "reset"):
        with torch.no_grad():
            nn.init.normal_(layer.weight, std=0.01)
            layer.bias.fill_(float(targets.mean()))
        return {"head": "new last layer, bias = mean target", "bias": float(targets.mean())}
    if mode == "rank" and how == "calibrate":
        model.eval()
        with torch.no_grad():
            scores = predict(model, train_images, "center", crop_size)
        a, b = calibration(scores, targets)
        with torch.no_grad():
            layer.weight.mul_(float(a))
            layer.bias.mul_(float(a)).add_(float(b))
        return {
            "head": "ranking head calibrated",
            "a": float(a),
            "b": float(b),
            "train_srocc_before": float(iqa_metrics(scores, targets)["srocc"]),
        }
    return {"head": "kept"}


def calibration(scores: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Linear map ``a·score + b`` of ranking scores onto the targets: the least-squares slope,
    kept positive (ranking scores are higher = better by construction, and a weak ranking model
    must not be flipped by noise) — at least a tenth of the moment-matched slope σt/σs."""
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if np.ptp(scores) == 0:
        return 0.0, float(targets.mean())
    slope = float(np.polyfit(scores, targets, 1)[0])
    a = max(slope, 0.1 * float(targets.std()) / float(scores.std()))
    return a, float(targets.mean() - a * scores.mean())


def validate(
    model, images: IQAImages, crops: str, crop_size: int, batch_size: int = 16
) -> dict[str, float]:
    """SROCC/PLCC/... of the pooled predictions on ``images`` (the validation part while
    training, the test part once at the end)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = predict(model, images, crops, crop_size, batch_size=batch_size)
    model.train(was_training)
    m = iqa_metrics(pred, images.table.targets)
    return {k: float(m[k]) for k in ("srocc", "krocc", "plcc_raw", "rmse_raw", "plcc_logistic5")}


def step_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    criterion,
    ranked: tuple[torch.Tensor, ...] | None = None,
    hinge: RankingHingeLoss | None = None,
    rank_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The loss terms of one fine-tuning step on batch ``(x, y)``.

    With a ``ranked`` batch ``(images, groups, levels, references)``, it goes through the
    network in the same forward pass and ``rank_weight`` × its ``hinge`` loss (``rank_loss``)
    is added to the regression loss.
    """
    device = next(model.parameters()).device
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if ranked is None:
        return {"loss": criterion(model(x), y)}
    images, groups, levels, refs = (t.to(device, non_blocking=True) for t in ranked)
    scores = model(torch.cat([x, images]))
    rank_loss = hinge(scores[len(x) :], groups, levels, refs)
    return {"loss": criterion(scores[: len(x)], y) + rank_weight * rank_loss,
            "rank_loss": rank_loss}


class FinetuneTask:
    """Fine-tuning on opinion scores (a :class:`~rankiqa.training.trainer.Task`)."""

    kind, select = "finetune", "srocc"
    columns = ("loss", "rank_loss", "lr", "srocc", "krocc", "plcc_raw", "rmse_raw",
               "plcc_logistic5")

    def __init__(self, config: FinetuneConfig, state: dict | None, out: Path):
        self.config, self.seed = config, config.seed
        self.criterion = loss_fn(config.loss)
        self.val_crops = parse_pooling(config.val_crops)
        self.test_crops = parse_pooling(config.test_crops)
        self.device = resolve_device(config.device)
        out.mkdir(parents=True, exist_ok=True)
        table = load_iqa_dataset(config.dataset, config.root, **config.dataset_options)
        if state is not None and "split" in state:
            saved = state["split"]
            split = Split(tuple(saved["train"]), tuple(saved["test"]),
                          val=tuple(saved.get("val", ())))
            if not split.val and not config.all_images:  # checkpoint of an older rankiqa
                split = _with_validation(config, table, split)
        else:
            split = _choose_split(config, table, out)
        self.split = split
        self.lr = config.lr if config.lr is not None else FINETUNE_LR.get(config.dataset, FINETUNE_LR_DEFAULT)
        seed_everything(config.seed)
        self.model, self.mode = build_initial_model(config, state)
        self.crop_size = crop_size = self.model.input_size
        head = self.model.config["head"]
        if "full" in (self.val_crops, self.test_crops) and not head_spec(head).any_size:
            raise UserError(f"--val-crops/--crops full need a head that accepts any size "
                            f"({any_size_heads()}), not {head!r}")
        self.model.to(self.device)
        self.ranked, self.hinge = None, None
        if config.rank_data:
            folders = [config.rank_data] if isinstance(config.rank_data, str) else config.rank_data
            self.ranked = read_ranked_sets(folders)
            self.rank_layout = BatchLayout.parse(config.rank_layout)  # the sampler checks it
            self.hinge = RankingHingeLoss(config.rank_margin, pairs="reference", reduction="pairs")
        images = IQAImages(table, resize=config.resize, crop_size=crop_size, cache=config.cache)
        if config.cache:
            shown = sys.stderr.isatty() if config.progress is None else config.progress
            images.preload(workers=config.workers, progress=shown)
        self.train_images = subset_images(images, split.train)
        self.val_images = subset_images(images, split.val)
        self.test_images = subset_images(images, split.test)
        self.head_info = (
            {"head": "resumed"} if state
            else init_head(self.model, config.head_init, self.mode, self.train_images, crop_size)
        )
        self.input = {"resize": config.resize, "test_crops": self.test_crops, "crop_size": crop_size}
        counts = {f"{k}_images": len(getattr(split, k)) for k in ("train", "val", "test")}
        self.info = {"lr": self.lr, "val_crops": self.val_crops, **counts, "note": (
            "best.pt is selected on the validation part; 'test' is best.pt on the test part, "
            f"evaluated once at the end with the recorded pooling ({self.test_crops})"
            if split.val
            else "no validation part (--all-images or --val-fraction 0): best.pt = the last "
            "step" + (f"; 'test' is it on the test part ({self.test_crops})" if split.test else "")
        )}

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        c = self.config
        opt = build_optimizer(
            self.model, c.optimizer, self.lr, c.momentum, c.weight_decay, c.head_lr_mult
        )
        return opt, build_scheduler(opt, c.lr_step, c.lr_gamma)

    def batches(self, start: int) -> Iterator[Any]:
        c, cuda = self.config, self.device.type == "cuda"
        batches = DataLoader(
            TrainBatches(self.train_images, c.batch_size, self.crop_size, c.seed),
            batch_size=None, sampler=range(start, c.iters),
            num_workers=0 if c.cache else c.workers, pin_memory=cuda,
        )
        if self.ranked is None:
            return iter(batches)
        ranked = ranked_loader(self.ranked, self.rank_layout, c.iters, self.crop_size, c.seed,
                               start, workers=c.workers, pin_memory=cuda)
        return zip(batches, ranked, strict=True)

    def loss(self, step: int, batch: Any) -> dict[str, torch.Tensor]:
        (x, y), ranked = batch if self.ranked is not None else (batch, None)
        return step_loss(self.model, x, y, self.criterion, ranked, self.hinge,
                         float(self.config.rank_weight))

    def validate(self, step: int) -> dict[str, float]:
        if not self.split.val:
            return {}
        return validate(self.model, self.val_images, self.val_crops, self.crop_size)

    def test(self) -> dict[str, Any]:
        """The test part, scored once at the end (with ``best.pt``'s weights)."""
        if not len(self.test_images):
            return {}
        crops = self.test_crops
        return {"crops": crops, **validate(self.model, self.test_images, crops, self.crop_size)}


def finetune(config: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune on opinion scores; returns a summary (last/best validation metrics, timings)."""
    out = Path(config.out)
    state = open_run(out, "finetune", config.resume)
    if state is not None:
        config = resumed_config(config, state, RESUMABLE_OVERRIDES + ("root", "out"))
    for name in ("iters", "val_every", "log_every", "batch_size", "lr_step"):
        if int(getattr(config, name)) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be a positive integer")
    if config.workers < 0:
        raise UserError("--workers must be 0 (load in the main process) or more")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise UserError(f"--lr must be a finite number > 0, got {config.lr}")
    if config.head_init not in HEAD_INITS:
        raise UserError(f"--head-init: expected one of {', '.join(HEAD_INITS)}")
    for name in ("rank_weight", "rank_margin"):
        value = float(getattr(config, name))
        if not (math.isfinite(value) and value > 0):
            raise UserError(f"--{name.replace('_', '-')} must be a finite number > 0, got {value}")
    task = FinetuneTask(config, state, out)
    split, args = task.split, dataclasses.asdict(config)
    if state is None:
        write_json(out / "run.json", {
            "args": args, "lr": task.lr, "init": task.mode, "head_init": task.head_info,
            "model_config": task.model.config, "train_images": len(split.train),
            "val_images": len(split.val), "test_images": len(split.test), "input": task.input,
        })
    extra = {
        "args": args, "input": task.input, "dataset": config.dataset,
        "split": {"train": list(split.train), "val": list(split.val), "test": list(split.test)},
        "score": {"offset": 0.0, "scale": 1.0},
    }
    trainer = Trainer(task, out, config.iters, config.val_every, config.log_every,
                      resume=state or False, progress=config.progress, extra=extra)
    return trainer.fit()
