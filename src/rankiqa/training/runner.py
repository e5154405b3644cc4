"""Run conveniences shared by ``train-rank`` and ``finetune``.

Seeding and exact resume
    All per-iteration randomness is derived from ``(seed, iteration, rank)``
    (:mod:`rankiqa.core.seeding`): call :func:`seed_step` at the start of
    every iteration and build samplers from :func:`derive_seed`. A run resumed from the
    checkpoint of iteration ``k`` then replays iterations ``k+1 ...`` exactly as the
    uninterrupted run does; only model, optimizer, scheduler and the step counter need to be
    checkpointed.

Distributed
    :func:`init_distributed` reads the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``) and initialises NCCL on CUDA or gloo on CPU; without it everything is a
    single process and the helpers are no-ops.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rankiqa.core.checkpoint import load_checkpoint
from rankiqa.core.errors import UserError
from rankiqa.core.files import atomic_path
from rankiqa.training.checkpoint import unwrap_model
from rankiqa.training.options import OPTIMIZERS

__all__ = [
    "DistInfo",
    "MetricsLog",
    "NonFiniteLossError",
    "all_reduce_sum",
    "barrier",
    "build_optimizer",
    "build_scheduler",
    "check_finite",
    "cleanup_distributed",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_main_process",
    "open_run",
    "wrap_ddp",
]

# ----------------------------------------------------------------------------- distributed


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(backend: str | None = None) -> DistInfo:
    """Initialise ``torch.distributed`` from the ``torchrun`` environment, if present.

    Backend: ``nccl`` when CUDA is available, else ``gloo`` (or ``backend``).
    Returns the rank/world size; a plain ``python`` launch gives ``DistInfo()``.
    """
    import torch.distributed as dist

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def get_rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """True on rank 0 (and in single-process runs): the one that writes files."""
    return get_rank() == 0


def barrier() -> None:
    import torch.distributed as dist

    if get_world_size() > 1:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over processes (in place; identity when not distributed)."""
    import torch.distributed as dist

    if get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def cleanup_distributed() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, device: torch.device) -> nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when running distributed."""
    if get_world_size() <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


# ----------------------------------------------------------------------------- optimisation


def build_optimizer(
    model: nn.Module,
    name: str = "sgd",
    lr: float = 1e-4,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    head_lr_mult: float = 10.0,
) -> torch.optim.Optimizer:
    """SGD (with momentum, as in the paper) or Adam over the model's parameter groups
    (backbone at ``lr``, head at ``lr * head_lr_mult``)."""
    groups = unwrap_model(model).parameter_groups(lr, head_lr_mult, weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    raise UserError(f"--optimizer: unknown optimizer {name!r}; choose {' or '.join(OPTIMIZERS)}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, step_size: int, gamma: float = 0.1
) -> torch.optim.lr_scheduler.StepLR:
    """Multiply every learning rate by ``gamma`` each ``step_size`` iterations (call
    ``scheduler.step()`` once per iteration)."""
    if step_size <= 0:
        raise UserError(f"--lr-step must be positive, got {step_size}")
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite: training diverged."""


def check_finite(loss: torch.Tensor | float, step: int) -> None:
    """Stop with a clear message when the loss is NaN or infinite."""
    value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"loss is {value} at iteration {step}: training diverged; lower --lr, check the "
            "data, or resume from the last checkpoint with a smaller learning rate"
        )


# ----------------------------------------------------------------------------- logging


class MetricsLog:
    """Metrics of a run in ``RUN_DIR/metrics.csv`` (columns ``step, split, <metric>...``) and a
    plot of the curves in ``RUN_DIR/curves.png``.

    Args:
        run_dir: the run directory (created).
        resume_step: when resuming, keep the existing rows up to this step (rows logged after
            the last checkpoint of a killed run are dropped); ``None`` starts a fresh file.
        enabled: ``False`` on non-main processes (nothing is written).
        columns: metric columns in the order they take in the file (after ``step, split``);
            metrics not listed are appended as they first appear.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike,
        resume_step: int | None = None,
        enabled: bool = True,
        columns: tuple[str, ...] = (),
    ):
        self.path = Path(run_dir) / "metrics.csv"
        self.plot_path = Path(run_dir) / "curves.png"
        self.enabled = enabled
        self.rows: list[dict[str, object]] = []
        self.columns: list[str] = ["step", "split", *columns]
        if not enabled:
            return
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or self.columns)
                self.rows = [r for r in reader if int(r["step"]) <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def log(self, step: int, split: str, **metrics: float) -> None:
        """Append one row (``split`` e.g. ``train`` / ``val``)."""
        if not self.enabled:
            return
        row: dict[str, object] = {"step": int(step), "split": split}
        row.update({k: (float(v) if v is not None else "") for k, v in metrics.items()})
        self.rows.append(row)
        new = [k for k in metrics if k not in self.columns]
        if new:
            self.columns += new
            self._rewrite()
            return
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, restval="").writerow(row)

    def plot(self) -> Path | None:
        """Write ``curves.png``: one panel per metric that has values, one line per split."""
        if not self.enabled or not self.rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metrics = [  # a metric without values (finetune's rank_loss with no ranking term): no panel
            c
            for c in self.columns
            if c not in ("step", "split") and any(r.get(c) not in ("", None) for r in self.rows)
        ]
        if not metrics:
            return None
        cols = min(3, len(metrics))
        nrows = math.ceil(len(metrics) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.2 * nrows), squeeze=False)
        splits = list(dict.fromkeys(str(r["split"]) for r in self.rows))
        colors = {s: f"C{i}" for i, s in enumerate(sorted(splits))}
        for ax, name in zip(axes.flat, metrics, strict=False):
            for split in splits:
                pts = [
                    (int(r["step"]), float(r[name]))
                    for r in self.rows
                    if str(r["split"]) == split and r.get(name) not in ("", None)
                ]
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    ax.plot(
                        xs,
                        ys,
                        label=split,
                        color=colors[split],
                        marker="." if len(pts) < 30 else None,
                    )
            ax.set_title(name)
            ax.set_xlabel("iteration")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        for ax in list(axes.flat)[len(metrics) :]:
            ax.axis("off")
        fig.tight_layout()
        with atomic_path(self.plot_path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        return self.plot_path


def open_run(out: str | os.PathLike, kind: str, resume: bool | str) -> dict | None:
    """The checkpoint state to resume in run folder ``out``, or ``None`` for a fresh run.

    ``resume``: ``False`` (start; refused over an existing run), ``True`` (continue; refused
    when there is no checkpoint) or ``"auto"`` (continue if there is a checkpoint, else start).
    A checkpoint of another ``kind`` is always refused (``UserError``).
    """
    ckpt_path = Path(out) / "checkpoint.pt"
    if resume == "auto":
        resume = ckpt_path.exists()
    if resume:
        state = load_checkpoint(ckpt_path)
        if state.get("kind") != kind:
            raise UserError(f"{ckpt_path}: not a {kind} checkpoint (kind={state.get('kind')})")
        return state
    if ckpt_path.exists():
        raise UserError(
            f"--out {out}: already holds a run (checkpoint.pt); pass --resume (or --resume auto) "
            "to continue it, or choose another folder"
        )
    return None
