"""Train the top of a backbone and its stats head from cached activations (``rankiqa
train-head`` on a cache made with ``rankiqa features --cut K``).

The frozen bottom of an EfficientNet-Lite (stem and blocks ``0 .. K-1``) runs once per image
and view when the cache is made; a step then runs only blocks ``K ..``, the head convolution and
the :class:`~rankiqa.models.heads.StatsHead`, so training the top stages for opinion scores and
RankIQA's ranking fits a laptop CPU. Batch-norm statistics stay frozen (ImageNet's), the head's
input standardisation is fixed from the training part's frozen-network statistics, the blocks
learn at ``block_lr`` and the head at ``lr``. The result is one ordinary network: the packaged
model file scores whole images exactly as :meth:`TopModel.forward` scores cached rows.

Examples
--------
>>> import torch
>>> from rankiqa.models import build_model
>>> net = build_model("efficientnet_lite0", "stats", None, head_hidden=0).eval()
>>> x = torch.rand(2, 3, 96, 128)
>>> from rankiqa.training.features import bottom_outputs
>>> below, mid = bottom_outputs(net, x, 11)
>>> top = TopModel(net, 11).eval()
>>> torch.allclose(top(list(mid), below), net(x), atol=1e-4)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.models import build_model
from rankiqa.models.heads import StatsHead
from rankiqa.models.quality import QualityNet
from rankiqa.training.features import FeatureCache
from rankiqa.training.head import HeadTask, ScoredRanked
from rankiqa.training.options import HeadConfig

__all__ = ["TopModel", "TopTask", "average_states", "initial_network"]


class TopModel(nn.Module):
    """Blocks ``cut ..``, the head convolution and the stats head of a
    :class:`~rankiqa.models.QualityNet` (EfficientNet-Lite), applied to cached activations.

    ``forward(maps, below)``: ``maps`` are the outputs of block ``cut - 1`` (a list of C×h×w
    tensors, sizes may differ, or one N×C×h×w tensor), ``below`` the stats-head statistics of
    the taps under the cut (N × F); returns the head's raw outputs (N). The bottom's parameters
    are frozen and every batch norm keeps its running statistics, in ``train()`` too.
    """

    def __init__(self, net: QualityNet, cut: int):
        super().__init__()
        if not hasattr(net.backbone, "forward_bottom"):
            raise UserError(f"backbone {net.config['backbone']} cannot be cut (EfficientNet-Lite only)")
        self.net, self.cut = net, int(cut)
        for name, p in net.backbone.named_parameters():
            block = name.split(".")[1] if name.startswith("_blocks.") else None
            trainable = (block is not None and int(block) >= self.cut) or name.startswith(
                ("_conv_head", "_bn1."))
            p.requires_grad_(trainable)

    def train(self, mode: bool = True) -> TopModel:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    def block_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.net.backbone.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.net.head.parameters())

    def pooled(self, maps: list[torch.Tensor] | torch.Tensor, below: torch.Tensor) -> torch.Tensor:
        """The stats head's input (before its standardisation) of cached rows."""
        if isinstance(maps, torch.Tensor):
            groups = {tuple(maps.shape[1:]): list(range(len(maps)))}
        else:
            groups = {}
            for k, m in enumerate(maps):
                groups.setdefault(tuple(m.shape), []).append(k)
        above = [None] * len(maps)
        for idx in groups.values():
            x = maps[idx] if isinstance(maps, torch.Tensor) else torch.stack([maps[k] for k in idx])
            taps = self.net.backbone.forward_taps(x.float(), start=self.cut)
            stats = self.net.head.pool(taps)
            for j, k in enumerate(idx):
                above[k] = stats[j]
        return torch.cat([below, torch.stack(above)], dim=1)

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net.head.fc(self.net.head.norm(pooled)).squeeze(1)

    def forward(self, maps: list[torch.Tensor] | torch.Tensor, below: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(maps, below))


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The parameter-wise mean of state dicts of one architecture trained from one
    initialisation (a uniform "model soup"); integer buffers come from the first.

    >>> a, b = {"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 5.0])}
    >>> average_states([a, b])["w"].tolist()
    [2.0, 4.0]
    """
    first = states[0]
    return {k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v.clone()
            for k, v in first.items()}


def initial_network(path: str | Path, cache: FeatureCache, member: int | None = None,
                    members: int = 1) -> QualityNet:
    """The network of a model file, to go on training its top on ``cache`` (``train-head
    --init``): one EfficientNet-Lite stats-head network whose frozen bottom (stem, blocks
    ``0 .. cut-1``) is the one that made the cache, up to float16 rounding. An ensemble file
    starts only an ensemble run of as many ``members``: ``member`` k starts from its member k
    (:func:`~rankiqa.models.ensemble.member_of`)."""
    from rankiqa.inference.model.loading import load_model_file
    from rankiqa.models.ensemble import bottom_difference, member_of

    model = load_model_file(path)
    config, net = model.metadata["model_config"], model.net
    if config.get("ensemble"):
        count = int(config["ensemble"]["members"])
        if member is None or members != count:
            raise UserError(f"--init {path}: an ensemble of {count} members starts only "
                            f"`--combine ensemble --members {count}`")
        net = member_of(net, member)[0]
    if config.get("backbone") != cache.meta["backbone"]:
        raise UserError(f"--init {path}: a {config.get('backbone')} network; the cache was made "
                        f"with {cache.meta['backbone']}")
    if not isinstance(net.head, StatsHead):
        raise UserError(f"--init {path}: needs a stats-head network, not {type(net.head).__name__}")
    bottom = build_model(cache.meta["backbone"], "stats", cache.meta["weights"]).backbone
    key = bottom_difference(net.backbone.state_dict(), bottom.state_dict(), cache.cut,
                            rtol=1e-3, atol=1e-5)  # float16 files round the bottom
    if key is not None:
        raise UserError(f"--init {path}: its frozen bottom ({key}) is not the one that made "
                        f"the cache (blocks 0..{cache.cut - 1} must be the cache's)")
    return net


#: the smallest side of a ``--map-crop`` window, in cells of the cached map: the stride-2
#: stage above the cut turns 3 cells into 1 and 4 into 2, and one cell has no standard deviation
MIN_CROP_CELLS = 4


class TopTask(HeadTask):
    """The blocks above a cache's cut plus a stats head on one training part (a
    :class:`~rankiqa.training.trainer.Task`): opinion scores and the ranking hinge, as
    :class:`~rankiqa.training.head.HeadTask`, through the trainable top.

    Every member starts from the same initialisation (``config.seed``); ``seed`` only changes
    the order of batches and mirror views, so members average into one network
    (:func:`average_states`).
    """

    kind = "top"

    def __init__(self, config: HeadConfig, cache: FeatureCache, ranked: list[FeatureCache],
                 train: np.ndarray, val: np.ndarray, seed: int,
                 scored: Sequence[ScoredRanked] = (), init: str | Path | None = None,
                 member: int | None = None):
        if cache.maps is None:
            raise UserError(f"{config.features}: has no cut (rankiqa features --cut K)")
        super().__init__(config, cache, ranked, train, val, seed, scored)
        torch.manual_seed(config.seed)
        if init is None:
            net = build_model(cache.meta["backbone"], "stats", cache.meta["weights"],
                              head_hidden=None if config.hidden == 256 else config.hidden)
        else:
            net = initial_network(init, cache, member, config.members)
        self.model = TopModel(net, cache.cut).eval()
        self._crop_rng = np.random.default_rng([seed, 11])  # --map-crop windows
        if init is not None:
            return  # the start's head standardisation belongs to its weights
        seen = [self.rows[f][i] for i in train for f in (0, 1) if i in self.rows[f]]
        with torch.no_grad():  # a fixed standardisation: the frozen network's statistics
            pooled = torch.cat([self.model.pooled([cache.maps[r] for r in seen[k:k + 64]],
                                                  cache.stats[seen[k:k + 64]])
                                for k in range(0, len(seen), 64)])
            net.head.norm.running_mean.copy_(pooled.mean(0))
            net.head.norm.running_var.copy_(pooled.var(0) + 1e-6)

    def scores(self, cache: FeatureCache, rows: list[int]) -> torch.Tensor:
        """Raw outputs of cached rows; in training, the opinion-scored rows' maps are cropped
        (``config.map_crop`` < 1), the ranked rows' never (their levels must show one view)."""
        if cache.maps is None:
            raise UserError("every cache of a top-training run needs the same --cut")
        crop = self.model.training and cache is self.cache and self.config.map_crop < 1
        maps = [self.random_crop(cache.maps[r]) if crop else cache.maps[r] for r in rows]
        outs = [self.model(maps[k:k + 64], cache.stats[rows[k:k + 64]])
                for k in range(0, len(rows), 64)]
        return torch.cat(outs)

    def random_crop(self, fmap: torch.Tensor) -> torch.Tensor:
        """A random window of a C×h×w map: each side a uniform fraction in
        ``[config.map_crop, 1]`` of the map's, at a uniform position. A side keeps at least
        :data:`MIN_CROP_CELLS` cells (or all it has), so the stride-2 stage above still leaves
        more than one cell to take a standard deviation over (a 1×1 crop made NaN features)."""
        rng, low = self._crop_rng, float(self.config.map_crop)
        height, width = fmap.shape[-2:]
        h = min(height, max(MIN_CROP_CELLS, int(round(height * rng.uniform(low, 1.0)))))
        w = min(width, max(MIN_CROP_CELLS, int(round(width * rng.uniform(low, 1.0)))))
        top, left = int(rng.integers(height - h + 1)), int(rng.integers(width - w + 1))
        return fmap[..., top:top + h, left:left + w]

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        groups = [{"params": self.model.block_parameters(), "lr": self.config.block_lr,
                   "name": "blocks"},
                  {"params": self.model.head_parameters(), "lr": self.config.lr, "name": "head"}]
        opt = torch.optim.AdamW(groups, weight_decay=self.config.weight_decay)
        total = self.config.epochs * self.steps_per_epoch
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)

    def merged(self, states: list[dict[str, torch.Tensor]]) -> nn.Module:
        """One model from the members' best states (their average)."""
        self.model.load_state_dict(average_states(states))
        return self.model.eval()

    def network(self) -> QualityNet:
        """The whole network with the trained top, for the model file."""
        return self.model.net
