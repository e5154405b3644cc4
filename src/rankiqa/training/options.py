"""The options of ``rankiqa finetune`` and ``rankiqa train-rank``: the one place of their
defaults. The CLI reads its defaults and choices from here (this module imports no torch).

>>> FinetuneConfig(dataset="live", root="data/live", init="imagenet", out="run").lr_step
5000
>>> RankTrainConfig(data="ranked", out="run").head
'paper'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: optimizers of :func:`rankiqa.training.optim.build_optimizer`
OPTIMIZERS = ("sgd", "adam")

#: the paper's fine-tuning learning rates: per dataset, else the default
FINETUNE_LR = {"live": 1e-6}
FINETUNE_LR_DEFAULT = 1e-5
HEAD_INITS = ("calibrate", "keep", "reset")


@dataclass
class FinetuneConfig:
    """Options of ``rankiqa finetune`` (defaults: the paper's fine-tuning solver)."""

    dataset: str
    root: str
    init: str  #: ``imagenet``, ``scratch`` or a train-rank checkpoint path
    out: str
    backbone: str = "alexnet"
    head: str = "paper"
    backbone_weights: str | None = None
    head_init: str = "calibrate"
    split_file: str | None = None
    split_index: int = 0
    official_split: bool = False
    all_images: bool = False  #: train on every image (no held-out part, no validation)
    test_fraction: float = 0.2
    #: share of the training part held out for model selection (when the split has no
    #: official validation part); 0: none, best.pt is the last step
    val_fraction: float = 0.2
    loss: str = "euclidean"
    optimizer: str = "sgd"
    lr: float | None = None  #: ``None``: :data:`FINETUNE_LR` of the dataset
    lr_step: int = 5000
    lr_gamma: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 5e-4
    head_lr_mult: float = 10.0
    iters: int = 20_000
    batch_size: int = 30
    resize: int | None = None
    crop_size: int | None = None  #: ``None``: the backbone's input size (227 / 224)
    val_every: int = 1000
    val_crops: str = "center"
    test_crops: str = "crops:30"
    log_every: int = 20
    workers: int = 2
    cache: bool = True
    seed: int = 0
    resume: bool | str = False  #: True: continue; "auto": continue if the run exists
    device: str | None = None
    progress: bool | None = None  #: None: a bar on a terminal, else a line per validation
    dataset_options: dict[str, Any] = field(default_factory=dict)
    #: ranked sets (``rankiqa distort`` folders) whose all-pairs hinge loss is added every step
    rank_data: str | list[str] | None = None
    rank_weight: float = 1.0
    rank_layout: str = "2x6x1"  #: groups × levels (pristine included) × references per step
    rank_margin: float = 10.0  #: hinge margin in score units (scores are 0–100)


#: learning rates of the authors' solvers per layout
RANK_LR = {"live": 1e-5}
RANK_LR_DEFAULT = 1e-4


@dataclass
class RankTrainConfig:
    """Options of ``rankiqa train-rank`` (defaults from the authors' Caffe solvers)."""

    data: str
    out: str
    backbone: str = "alexnet"
    head: str = "paper"
    backbone_weights: str | None = None
    layout: str = "auto"  #: ``live``, ``tid``, ``GxLxR`` or ``auto`` (from the ranked set)
    iters: int = 50_000
    lr: float | None = None  #: ``None``: :data:`RANK_LR` of the layout
    lr_step: int = 10_000
    lr_gamma: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    head_lr_mult: float = 10.0
    margin: float = 10.0
    pairs: str = "reference"
    reduction: str = "batch"
    crop_size: int | None = None  #: ``None``: the backbone's input size (227 / 224)
    dropout: float | None = None  #: override the head's dropout probability
    val_fraction: float = 0.2
    val_every: int = 1000
    log_every: int = 20
    workers: int = 2
    seed: int = 0
    resume: bool | str = False  #: True: continue; "auto": continue if the run exists
    device: str | None = None
    progress: bool | None = None  #: None: a bar on a terminal, else a line per validation
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class HeadConfig:
    """Options of ``rankiqa train-head`` (heads on cached frozen features, the default model)."""

    features: str  #: IQA feature cache (``rankiqa features --dataset NAME``)
    out: str  #: run folder
    rank_features: list[str] = field(default_factory=list)  #: ranked caches for the hinge term
    #: ranked caches distorted from the opinion-scored photos themselves: each part ranks only
    #: the sequences of its own training photos (:func:`~rankiqa.training.head.scored_references`)
    scored_rank_features: list[str] = field(default_factory=list)
    eval_rank_features: str | None = None  #: a ranked cache for the synthetic check only
    split_file: str | None = None  #: ``None``: train on every image
    split_index: str = "all"  #: a split number, or ``all`` (every split but the lockbox)
    val_fraction: float = 0.15  #: of each training part, chooses the epoch
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    #: learning rate of the backbone blocks above a cache's cut (``rankiqa features --cut``)
    block_lr: float = 1e-4
    #: top training: each training row's cached map is cropped to a random window whose sides
    #: are a uniform fraction in ``[map_crop, 1]`` of the map's (1: whole maps)
    map_crop: float = 1.0
    weight_decay: float = 1e-4
    hidden: int = 256
    rank_weight: float = 1.0
    #: weight of the opinion-score term; 0: the ranking term alone (RankIQA's first stage)
    mos_weight: float = 1.0
    rank_groups: int = 2  #: ranked sequences per step
    margin: float = 0.5  #: hinge margin, in MOS standard deviations
    #: top training only: start from a model file trained on a cache with the same bottom (its
    #: top, head and head standardisation), or from a run folder, whose part of the same name
    #: (``INIT/PART/model.safetensors``) starts each part; ``None``: ImageNet top, new head
    init: str | None = None
    members: int = 3  #: heads from seeds ``seed .. seed+members-1``, merged into one
    #: how members become one model: ``average`` (their weights: one initialisation, the seeds
    #: change batch order and mirrors) or ``ensemble`` (top training only: each member a whole
    #: run of its own seed, as ``--seed S`` trains it; one network scoring the mean of their
    #: linear scores, :mod:`rankiqa.models.ensemble`)
    combine: str = "average"
    half: bool = False  #: store the model files' weights in float16
    #: also write ``OUT/merged``: the weight average of the cross-validation parts' models
    #: (top training only; every part starts from one initialisation)
    merge_folds: bool = False
    seed: int = 0
    resume: bool | str = False
    name: str | None = None  #: model file name field


@dataclass
class FeaturesConfig:
    """Options of ``rankiqa features`` (:func:`rankiqa.training.features.cache_features`)."""

    dataset: str = "ranked"  #: an IQA dataset name, or ``ranked`` (a ``rankiqa distort`` folder)
    backbone: str = "efficientnet_lite0"
    backbone_weights: str = "imagenet"
    resize: int = 336  #: shorter side of the whole-image input
    #: EfficientNet-Lite: also store the output of block ``cut - 1`` (the bottom stays frozen,
    #: ``train-head`` trains the blocks from ``cut`` on); ``None``: the whole backbone frozen
    cut: int | None = None
