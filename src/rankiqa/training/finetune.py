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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from rankiqa.core.checkpoint import load_checkpoint, save_checkpoint
from rankiqa.core.devices import resolve_device
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.preprocess import parse_pooling
from rankiqa.core.seeding import seed_everything, seed_step
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.iqa.dataset import IQAImages, TrainBatches, subset_images
from rankiqa.data.ranked import BatchLayout, ranked_loader, read_ranked_sets
from rankiqa.data.splits import Split, carve_validation, choose_splits, random_splits, save_splits
from rankiqa.evaluation.metrics import iqa_metrics
from rankiqa.evaluation.protocol import predict
from rankiqa.losses.ranking import RankingHingeLoss
from rankiqa.losses.regression import REGRESSION_LOSSES, get_regression_loss
from rankiqa.models.head_specs import any_size_heads, head_spec
from rankiqa.training import runner
from rankiqa.training.checkpoint import training_state
from rankiqa.training.loop import progress_bar, restore, run_loop
from rankiqa.training.options import (
    FINETUNE_LR,
    FINETUNE_LR_DEFAULT,
    HEAD_INITS,
    FinetuneConfig,
)

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


def _config_from_checkpoint(config: FinetuneConfig, state: dict) -> FinetuneConfig:
    saved = dict(state.get("args", {}))
    known = {f.name for f in dataclasses.fields(FinetuneConfig)}
    merged = {k: v for k, v in saved.items() if k in known}
    for key in RESUMABLE_OVERRIDES + ("root", "out"):
        merged[key] = getattr(config, key)
    return FinetuneConfig(**merged)


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


def _test_best(
    best_path: Path, test_images: IQAImages, crops: str, crop_size: int, device
) -> dict[str, Any]:
    """Metrics of ``best.pt`` on the test part (``{}`` when there is none)."""
    if not len(test_images) or not best_path.is_file():
        return {}
    from rankiqa.models import model_from_config

    state = load_checkpoint(best_path)
    model = model_from_config(state["model_config"])
    model.load_state_dict(state["model"])
    model.to(device)
    return {
        "step": int(state["step"]),
        "crops": crops,
        **validate(model, test_images, crops, crop_size),
    }


@dataclass
class RankingTerm:
    """The ranking half of a multi-task step: a ranked batch and how much its hinge loss counts."""

    criterion: RankingHingeLoss
    weight: float
    batch: tuple[torch.Tensor, ...] | None = None  #: (images, groups, levels, references)
    last: float = float("nan")  #: the hinge loss of the last step (for the log)


def _ranking_term(
    config: FinetuneConfig, crop_size: int, step: int, device: torch.device
) -> tuple[RankingTerm, DataLoader]:
    """The ranking term of a multi-task run and the loader of its ranked batches (one per step,
    from step ``step`` on, each drawn from (seed, step) so a resumed run draws the same)."""
    folders = [config.rank_data] if isinstance(config.rank_data, str) else config.rank_data
    ranked = read_ranked_sets(folders)
    layout = BatchLayout.parse(config.rank_layout)  # the sampler checks it fits
    loader = ranked_loader(
        ranked, layout, config.iters, crop_size, config.seed, step,
        workers=config.workers, pin_memory=device.type == "cuda",
    )
    criterion = RankingHingeLoss(config.rank_margin, pairs="reference", reduction="pairs")
    return RankingTerm(criterion, float(config.rank_weight)), loader


def train_step(
    model,
    x,
    y,
    criterion,
    optimizer,
    scheduler,
    seed: int,
    step: int,
    ranking: RankingTerm | None = None,
) -> float:
    """One optimizer step (number ``step``, 1-based) on batch ``(x, y)``; returns the loss.

    With ``ranking``, its ranked batch goes through the network in the same forward pass and
    ``ranking.weight`` × its hinge loss is added. Randomness inside the step (dropout) is seeded
    from (seed, step), so a resumed run repeats an uninterrupted one; a non-finite loss stops
    with a clear error.
    """
    seed_step(seed, step)
    device = next(model.parameters()).device
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if ranking is None or ranking.batch is None:
        loss = criterion(model(x), y)
    else:
        images, groups, levels, refs = (t.to(device, non_blocking=True) for t in ranking.batch)
        scores = model(torch.cat([x, images]))
        hinge = ranking.criterion(scores[len(x) :], groups, levels, refs)
        ranking.last = float(hinge.detach())
        loss = criterion(scores[: len(x)], y) + ranking.weight * hinge
    runner.check_finite(loss, step)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return float(loss.detach())


def finetune(config: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune on opinion scores; returns a summary (last/best validation metrics, timings)."""
    out = Path(config.out)
    ckpt_path = out / "checkpoint.pt"
    state = runner.open_run(out, "finetune", config.resume)
    if state is not None:
        config = _config_from_checkpoint(config, state)
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
    criterion = loss_fn(config.loss)
    val_crops = parse_pooling(config.val_crops)
    test_crops = parse_pooling(config.test_crops)
    device = resolve_device(config.device)
    out.mkdir(parents=True, exist_ok=True)

    table = load_iqa_dataset(config.dataset, config.root, **config.dataset_options)
    if state is not None and "split" in state:
        saved = state["split"]
        split = Split(tuple(saved["train"]), tuple(saved["test"]), val=tuple(saved.get("val", ())))
        if not split.val and not config.all_images:  # checkpoint of an older rankiqa
            split = _with_validation(config, table, split)
    else:
        split = _choose_split(config, table, out)
    lr = config.lr if config.lr is not None else FINETUNE_LR.get(config.dataset, FINETUNE_LR_DEFAULT)

    seed_everything(config.seed)
    model, mode = build_initial_model(config, state)
    crop_size = model.input_size
    if "full" in (val_crops, test_crops) and not head_spec(model.config["head"]).any_size:
        raise UserError(
            f"--val-crops/--crops full need a head that accepts any size ({any_size_heads()}), "
            f"not {model.config['head']!r}"
        )
    model.to(device)

    images = IQAImages(table, resize=config.resize, crop_size=crop_size, cache=config.cache)
    if config.cache:
        images.preload(workers=config.workers, progress=config.progress and sys.stderr.isatty())
    train_images = subset_images(images, split.train)
    val_images = subset_images(images, split.val)
    test_images = subset_images(images, split.test)
    head_info = (
        {"head": "resumed"}
        if state
        else init_head(model, config.head_init, mode, train_images, crop_size)
    )
    model.train()

    optimizer = runner.build_optimizer(
        model, config.optimizer, lr, config.momentum, config.weight_decay, config.head_lr_mult
    )
    scheduler = runner.build_scheduler(optimizer, config.lr_step, config.lr_gamma)
    step, best = restore(state, optimizer, scheduler)

    batches = TrainBatches(train_images, config.batch_size, crop_size, config.seed)
    loader = DataLoader(
        batches,
        batch_size=None,
        sampler=range(step, config.iters),
        num_workers=0 if config.cache else config.workers,
        pin_memory=device.type == "cuda",
    )
    ranking, batch_source = None, loader
    if config.rank_data:
        ranking, rank_loader = _ranking_term(config, crop_size, step, device)
        batch_source = zip(loader, rank_loader, strict=True)
    log = runner.MetricsLog(
        out,
        resume_step=step if state else None,
        columns=(
            "loss",
            "rank_loss",
            "lr",
            "srocc",
            "krocc",
            "plcc_raw",
            "rmse_raw",
            "plcc_logistic5",
        ),
    )
    args = dataclasses.asdict(config)
    input_meta = {"resize": config.resize, "test_crops": test_crops, "crop_size": crop_size}
    split_meta = {"train": list(split.train), "val": list(split.val), "test": list(split.test)}
    if state is None:
        write_json(
            out / "run.json",
            {
                "args": args,
                "lr": lr,
                "init": mode,
                "head_init": head_info,
                "model_config": model.config,
                "train_images": len(split.train),
                "val_images": len(split.val),
                "test_images": len(split.test),
                "input": input_meta,
            },
        )

    def checkpoint(step: int, metrics: dict[str, float]) -> None:
        payload = training_state(
            "finetune",
            model,
            optimizer,
            scheduler,
            step,
            args,
            metrics,
            best,
            input=input_meta,
            split=split_meta,
            dataset=config.dataset,
            score={"offset": 0.0, "scale": 1.0},
        )
        save_checkpoint(ckpt_path, payload)
        if (metrics and best.get("step") == step) or (not split.val and step == config.iters):
            save_checkpoint(out / "best.pt", payload)

    window: list[float] = []
    rank_window: list[float] = []
    last_val: dict[str, float] = {}

    def one_step(step: int, batch) -> float:
        if ranking is not None:
            batch, ranking.batch = batch
        loss = train_step(
            model, *batch, criterion, optimizer, scheduler, config.seed, step, ranking
        )
        window.append(loss)
        if ranking is not None:
            rank_window.append(ranking.last)
        return loss

    def log_train(step: int) -> None:
        extra = {"rank_loss": float(np.mean(rank_window))} if rank_window else {}
        log.log(
            step, "train", loss=float(np.mean(window)), lr=optimizer.param_groups[0]["lr"], **extra
        )
        window.clear()
        rank_window.clear()

    def validate_and_checkpoint(step: int) -> None:
        nonlocal best, last_val
        if split.val:
            last_val = validate(model, val_images, val_crops, crop_size)
            log.log(step, "val", **last_val)
            if not best or (math.isfinite(last_val["srocc"]) and last_val["srocc"] > best["srocc"]):
                best = {"step": step, **last_val}
        checkpoint(step, last_val)
        log.plot()

    def postfix(loss: float) -> dict[str, str]:
        shown = {k: v for k, v in last_val.items() if k in ("srocc", "plcc_raw")}
        return {"loss": f"{loss:.2f}", **{f"val_{k}": f"{v:.3f}" for k, v in shown.items()}}

    timing = run_loop(
        batch_source,
        step,
        config.iters,
        one_step,
        config.log_every,
        log_train,
        config.val_every,
        validate_and_checkpoint,
        progress_bar(config.progress, config.iters, step, "finetune"),
        postfix,
    )
    test = _test_best(out / "best.pt", test_images, test_crops, crop_size, device)
    summary = {
        **timing,
        "lr": lr,
        "val_crops": val_crops,
        "val": last_val,
        "best": best,
        "test": test,
        "run_dir": str(out),
        "train_images": len(split.train),
        "val_images": len(split.val),
        "test_images": len(split.test),
        "note": (
            "best.pt is selected on the validation part; 'test' is best.pt on the test part, "
            f"evaluated once at the end with the recorded pooling ({test_crops})"
            if split.val
            else "no validation part (--all-images or --val-fraction 0): best.pt = the last "
            "step" + (f"; 'test' is it on the test part ({test_crops})" if split.test else "")
        ),
    }
    write_json(out / "summary.json", summary)
    return summary
