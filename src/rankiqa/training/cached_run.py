"""``rankiqa train-head``: train on feature caches, for every asked training part.

For each part of a split file (or all images), ``members`` models from consecutive seeds are
trained by the :class:`~rankiqa.training.trainer.Trainer` — stats heads on a frozen backbone
(:class:`~rankiqa.training.head.HeadTask`), or, on a cache made with ``--cut``, the backbone's
top with its head (:class:`~rankiqa.training.top.TopTask`) — merged into one network, tested,
and written as a model file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json, write_text_atomic
from rankiqa.core.model_file import build_metadata, save_model_file, scale_scores
from rankiqa.evaluation.compare import PREDICTIONS_FILE, predictions_csv
from rankiqa.evaluation.metrics import CI_MIN_IMAGES, CI_RESAMPLES, bootstrap_interval
from rankiqa.models.ensemble import ensemble_of
from rankiqa.training.features import FeatureCache, check_compatible, read_features
from rankiqa.training.head import HeadTask, ScoredRanked, pair_accuracy, scored_references
from rankiqa.training.options import HeadConfig
from rankiqa.training.top import TopTask
from rankiqa.training.trainer import Trainer

__all__ = ["save_packaged", "train_head"]


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


@dataclass
class _Caches:
    """The feature caches of one ``train-head`` run, read and checked together."""

    mos: FeatureCache  #: the opinion-scored photos
    ranked: list[FeatureCache]  #: ranked sets used whole (``--rank-features``)
    scored: list[ScoredRanked]  #: ranked sets of the scored photos (``--scored-rank-features``)
    evalset: FeatureCache | None  #: the synthetic check (``--eval-rank-features``)


def _read_caches(config: HeadConfig) -> _Caches:
    cache = read_features(config.features)
    if "target" not in cache.rows[0]:
        raise UserError(f"{config.features}: not a cache of an IQA dataset (no opinion scores)")
    ranked = [read_features(p) for p in config.rank_features]
    own = [read_features(p) for p in config.scored_rank_features]
    evalset = read_features(config.eval_rank_features) if config.eval_rank_features else None
    names = [config.features, *config.rank_features, *config.scored_rank_features] + \
        ([config.eval_rank_features] if evalset else [])
    check_compatible([cache, *ranked, *own] + ([evalset] if evalset else []), names)
    scored = [(c, scored_references(cache, c, path))
              for c, path in zip(own, config.scored_rank_features, strict=True)]
    return _Caches(cache, ranked, scored, evalset)


def _task_type(config: HeadConfig, caches: _Caches) -> type[HeadTask]:
    """The task the options and the cache ask for — a head on frozen features, or the top above
    a ``--cut`` — once every option has been checked against it."""
    if config.members < 1 or config.epochs < 1 or config.batch_size < 1:
        raise UserError("--members, --epochs and --batch-size must be positive")
    if not 0 <= config.val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {config.val_fraction}")
    top = caches.mos.cut is not None
    if config.merge_folds and not top:
        raise UserError("--merge-folds averages weights of the trained top: it needs a cache "
                        "made with `rankiqa features --cut K`")
    if config.combine not in ("average", "ensemble"):
        raise UserError(f"--combine: expected average or ensemble, got {config.combine!r}")
    if config.combine == "ensemble" and (not top or config.merge_folds):
        raise UserError("--combine ensemble joins trained tops: it needs a cache made with "
                        "`rankiqa features --cut K`, and no --merge-folds")
    if config.mos_weight == 0 and (not caches.ranked + caches.scored or config.rank_weight == 0):
        raise UserError("--mos-weight 0 trains the ranking term alone: it needs --rank-features "
                        "or --scored-rank-features and a --rank-weight above 0")
    if config.init is not None and not top:
        raise UserError("--init goes on training a top: it needs a cache made with "
                        "`rankiqa features --cut K`")
    return TopTask if top else HeadTask


def train_head(config: HeadConfig) -> dict[str, Any]:
    """Train, for each asked training part, ``members`` heads; merge them; test; package.

    Writes ``OUT/PART/member-K/`` (trainer runs), ``OUT/PART/model.safetensors`` and
    ``OUT/results.json`` (per part: validation, test SROCC/PLCC, synthetic pairs; the pooled
    out-of-fold numbers over cross-validation parts, with SROCC's 95 % bootstrap interval) and
    ``OUT/predictions.csv`` (each test photo's opinion score and prediction, for
    :func:`rankiqa.evaluation.compare.compare_files`).
    """
    caches = _read_caches(config)
    task_type = _task_type(config, caches)
    out = Path(config.out)
    parts = _parts(config, len(caches.mos.rows_of(0)))
    if config.merge_folds and sum(not lockbox for *_, lockbox in parts) < 2:
        raise UserError("--merge-folds needs at least two cross-validation parts "
                        "(--split-file with --split-index all)")
    starts = {name: _init_file(config, name) for name, *_ in parts}
    fold_states: list[dict[str, torch.Tensor]] = []
    fold_scores: list[dict[str, Any]] = []
    results: dict[str, Any] = {"config": asdict(config), "parts": {}}
    pooled_idx, pooled_pred = [], []
    predictions: list[tuple[str, bool, np.ndarray, np.ndarray, np.ndarray]] = []
    for name, train_all, test, lockbox in parts:
        task, part = _train_part(config, caches, task_type, train_all, starts[name], out / name)
        if not lockbox and config.merge_folds:
            fold_states.append({k: v.clone() for k, v in task.model.state_dict().items()})
            fold_scores.append(dict(task.score))
        part = {**part, "lockbox": lockbox, **task.validate(0), "test": len(test)}
        if len(test):
            p = task.predict(test)
            part["test_srocc"] = float(spearmanr(p, task.targets[test])[0])
            part["test_plcc"] = float(pearsonr(p, task.targets[test])[0])
            predictions.append((name, lockbox, test, task.targets[test], p))
            if not lockbox:
                pooled_idx += test.tolist()
                pooled_pred += p.tolist()
        if caches.evalset is not None:
            with torch.inference_mode():
                scores = task.scores(caches.evalset, list(range(len(caches.evalset.rows))))
                part["pairs"] = pair_accuracy(scores, caches.evalset.ranked_groups())
        part["model"] = str(save_packaged(config, caches.mos, task.network(), task.score,
                                          out / name,
                                          {k: v for k, v in part.items() if k != "members"},
                                          members=len(part["members"])))
        results["parts"][name] = part
    if len(pooled_idx) > 1:
        y = task.targets[pooled_idx]
        results["pooled"] = {"srocc": float(spearmanr(pooled_pred, y)[0]),
                             "plcc": float(pearsonr(pooled_pred, y)[0]), "n": len(pooled_idx)}
        if len(pooled_idx) >= CI_MIN_IMAGES:
            results["pooled"]["srocc_ci95"] = list(
                bootstrap_interval(pooled_pred, y, resamples=CI_RESAMPLES))
    if config.merge_folds:
        results["merged"] = _merge_folds(config, caches.mos, caches.evalset, task, fold_states,
                                         fold_scores, out / "merged")
    if predictions:
        write_text_atomic(out / PREDICTIONS_FILE, _predictions_csv(caches.mos, predictions))
    else:  # no test part: a file left by an earlier run in this folder is not this run's
        (out / PREDICTIONS_FILE).unlink(missing_ok=True)
    write_json(out / "results.json", results)
    return results


def _predictions_csv(cache: FeatureCache,
                     parts: list[tuple[str, bool, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """One row per test photo of each part: its image id, opinion score and prediction."""
    rows = cache.rows_of(0)
    return predictions_csv(
        (name, lockbox, i, cache.rows[rows[i]]["id"], target, p)
        for name, lockbox, test, targets, pred in parts
        for i, target, p in zip(test.tolist(), targets.tolist(), pred.tolist(), strict=True))


def _train_part(config: HeadConfig, caches: _Caches, task_type: type[HeadTask],
                train_all: np.ndarray, start: Path | None, folder: Path
                ) -> tuple[Any, dict[str, Any]]:
    """Train one part's ``members`` (``FOLDER/member-K``) and combine them: the combined task
    (its predictions are the model file's) and the part's members, training and validation
    sizes."""
    ensemble = config.combine == "ensemble"
    heads, members, tasks, member_splits = [], [], [], []
    for m in range(config.members):
        # averaged members share the first seed's validation part and initialisation; an
        # ensemble's member m is the whole run of seed + m, started from the start's member m
        member_config = replace(config, seed=config.seed + m) if ensemble else config
        if ensemble or m == 0:
            member_splits.append(_validation_split(train_all, member_config))
        val, train = member_splits[-1]
        begin = {} if start is None else {"init": start, **({"member": m} if ensemble else {})}
        task = task_type(member_config, caches.mos, caches.ranked, train, val,
                         seed=config.seed + m, scored=caches.scored, **begin)
        trainer = Trainer(task, folder / f"member-{m}",
                          iters=config.epochs * task.steps_per_epoch,
                          val_every=task.steps_per_epoch, log_every=task.steps_per_epoch,
                          resume=config.resume, extra={"head_config": asdict(config)})
        summary = trainer.fit()
        trainer.load_best()
        heads.append({k: v.clone() for k, v in task.model.state_dict().items()})
        best = summary["best"] or {"step": summary["steps"]}  # no validation: the last
        members.append({"best_step": best["step"],
                        **({"val_srocc": round(best["val_srocc"], 4)} if len(val) else {})})
        tasks.append(task)
    val, train = member_splits[0]  # the first member's, reported
    if ensemble:
        task = TopEnsembleTask(tasks, caches.mos.cut)
    else:
        task.merged(heads)  # predictions of the merged model, same scale
    return task, {"members": members, "train": len(train), "val": len(val)}


def _init_file(config: HeadConfig, part: str) -> Path | None:
    """The model file that starts a part (``--init``): the file itself, or a run folder's part
    of the same name."""
    if config.init is None:
        return None
    init = Path(config.init)
    if init.is_dir():
        path = init / part / "model.safetensors"
        if not path.is_file():
            raise UserError(f"--init {init}: a run folder without {part}/model.safetensors "
                            f"(it must hold every part asked for)")
        return path
    if not init.is_file():
        raise UserError(f"--init {init}: no such model file or run folder")
    return init


def _validation_split(train_all: np.ndarray, config: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """(validation, training) images of a training part: a seeded ``val_fraction`` of it
    (``--val-fraction 0``: none; every image trains and the last epoch is kept)."""
    perm = np.random.default_rng([config.seed, 1234]).permutation(train_all)
    n_val = max(1, int(round(config.val_fraction * len(perm)))) if config.val_fraction else 0
    return np.sort(perm[:n_val]), np.sort(perm[n_val:])


class TopEnsembleTask:
    """The prediction ensemble of trained :class:`TopTask` members on cached rows, as the
    network :func:`rankiqa.models.ensemble.ensemble_of` makes of them scores whole images: the
    mean of the members' linear scores (``offset + scale * raw``), then their squash."""

    def __init__(self, tasks: list[TopTask], cut: int):
        self.tasks, self.cut = tasks, int(cut)
        self.cache, self.targets = tasks[0].cache, tasks[0].targets
        self.score = {**tasks[0].score, "offset": 0.0, "scale": 1.0}

    def scores(self, cache: FeatureCache, rows: list[int]) -> torch.Tensor:
        """The ensemble network's raw outputs (the members' mean linear score) of cached rows."""
        return torch.stack([t.scores(cache, rows) * float(t.score.get("scale", 1.0))
                            + float(t.score.get("offset", 0.0)) for t in self.tasks]).mean(0)

    def predict(self, idx: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            raw = self.scores(self.cache, [self.tasks[0].rows[0][i] for i in idx])
            return scale_scores(raw, self.score).numpy()

    def validate(self, step: int) -> dict[str, float]:
        return {}  # each member chose its epoch on its own validation part

    def network(self) -> torch.nn.Module:
        return ensemble_of([t.network() for t in self.tasks], [t.score for t in self.tasks],
                           self.cut)


def _merge_folds(config: HeadConfig, cache: FeatureCache, evalset: FeatureCache | None,
                 task: TopTask, states: list[dict[str, torch.Tensor]], scores: list[dict[str, Any]],
                 folder: Path) -> dict[str, Any]:
    """The weight average of the parts' models (their score scales averaged too), its synthetic
    pair accuracy, written as ``FOLDER/model.safetensors``."""
    task.merged(states)
    task.score = {**scores[0], **{k: float(np.mean([s[k] for s in scores]))
                                  for k in ("offset", "scale")}}
    merged: dict[str, Any] = {"parts": len(states)}
    if evalset is not None:
        with torch.inference_mode():
            merged["pairs"] = pair_accuracy(task.scores(evalset, list(range(len(evalset.rows)))),
                                            evalset.ranked_groups())
    merged["model"] = str(save_packaged(config, cache, task.network(), task.score, folder,
                                        {"merged_parts": len(states),
                                         **({"pairs": merged["pairs"]} if "pairs" in merged else {})}))
    return merged


def save_packaged(config: HeadConfig, cache: FeatureCache, net: torch.nn.Module, score: dict,
                  folder: Path, metrics: dict, members: int | None = None) -> Path:
    """The trained network as a model file ``FOLDER/model.safetensors``."""
    trainable = ("stats head only (backbone frozen)" if cache.cut is None else
                 f"blocks {cache.cut}.. of the backbone, its head convolution and the stats head "
                 f"(stem and blocks 0..{cache.cut - 1} frozen; batch-norm statistics frozen)")
    metadata = build_metadata(
        net.config,
        cache.meta["input"],
        {**score, "range": [0, 100], "direction": "higher is better"},
        training={"task": "rankiqa train-head", "features": config.features,
                  "rank_features": list(config.rank_features),
                  **({"scored_rank_features": list(config.scored_rank_features)}
                     if config.scored_rank_features else {}),
                  "members": config.members if members is None else members,
                  "combine": config.combine, "seed": config.seed,
                  "weights": "float16" if config.half else "float32",
                  "epochs": config.epochs, "rank_weight": config.rank_weight,
                  "mos_weight": config.mos_weight,
                  **({} if config.init is None else {"init": config.init}),
                  "trainable": trainable,
                  **({} if cache.cut is None else {"cut": cache.cut, "block_lr": config.block_lr})},
        metrics={k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()},
        name=config.name,
    )
    return save_model_file(folder / "model.safetensors", net.state_dict(), metadata,
                           half=config.half)
