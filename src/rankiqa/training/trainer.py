"""One trainer for every rankiqa training task.

The :class:`Trainer` owns what every run needs — the run folder, resume, the loop, logging
(``metrics.csv``, ``curves.png``, a progress bar on a terminal and one line per validation in a
log), checkpoints (``checkpoint.pt`` at each validation, ``best.pt`` when the selection metric
improves) and the final summary (``summary.json``). A task only says what is specific to it
(the :class:`Task` protocol): its model, optimizer and scheduler, its batches, the loss of one
batch and its validation metrics.

Examples
--------
>>> import tempfile, torch
>>> class Line:  # fit y = 2x on 8 points
...     kind, select, seed = "head", "neg_mse", 0
...     def __init__(self):
...         self.model = torch.nn.Linear(1, 1)
...         self.x = torch.linspace(-1, 1, 8)[:, None]
...     def optimizer(self):
...         opt = torch.optim.SGD(self.model.parameters(), lr=0.3)
...         return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
...     def batches(self, start):
...         while True:
...             yield self.x
...     def loss(self, step, x):
...         return {"loss": ((self.model(x) - 2 * x) ** 2).mean()}
...     def validate(self, step):
...         with torch.no_grad():
...             return {"neg_mse": -float(((self.model(self.x) - 2 * self.x) ** 2).mean())}
>>> out = tempfile.mkdtemp()
>>> summary = Trainer(Line(), out, iters=40, val_every=20, progress=False).fit()
>>> summary["steps"], summary["best"]["step"], summary["best"]["neg_mse"] > -1e-3
(40, 40, True)
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from rankiqa.core.checkpoint import load_checkpoint, save_checkpoint
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.seeding import seed_step
from rankiqa.training.checkpoint import model_state
from rankiqa.training.runner import MetricsLog, check_finite, open_run

__all__ = ["Task", "Trainer"]


class Task(Protocol):
    """What a training task tells the :class:`Trainer`."""

    kind: str  #: checkpoint kind (a resume of another kind is refused)
    select: str  #: the validation metric that chooses ``best.pt`` (higher is better)
    model: nn.Module  #: what is trained and checkpointed

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        """The optimizer and its scheduler (stepped once per iteration)."""

    def batches(self, start: int) -> Iterator[Any]:
        """Training batches for the steps after ``start`` (a resumed run replays exactly)."""

    def loss(self, step: int, batch: Any) -> dict[str, torch.Tensor]:
        """The loss terms of one batch; ``"loss"`` (their weighted sum) is back-propagated."""

    def validate(self, step: int) -> dict[str, float]:
        """Validation metrics, ``select`` among them."""


class Trainer:
    """Runs a :class:`Task` for ``iters`` steps in run folder ``out``.

    ``resume``: ``False`` (a new run; refused over an existing one), ``True`` or ``"auto"``
    (see :func:`rankiqa.training.runner.open_run`). ``extra`` is stored in every checkpoint
    (e.g. the options that rebuild the task). ``progress``: ``None`` shows a bar on a
    terminal and prints one line per validation otherwise.
    """

    def __init__(
        self,
        task: Task,
        out: str | Path,
        iters: int,
        val_every: int,
        log_every: int = 10,
        resume: bool | str = False,
        progress: bool | None = None,
        extra: dict[str, Any] | None = None,
    ):
        if iters < 1 or val_every < 1 or log_every < 1:
            raise UserError("--iters, --val-every and --log-every must be positive")
        self.task, self.out, self.iters = task, Path(out), int(iters)
        self.val_every, self.log_every = int(val_every), int(log_every)
        self.resume, self.extra = resume, dict(extra or {})
        self.bar = sys.stderr.isatty() if progress is None else progress
        self.quiet = progress is False

    def _checkpoint(self, optimizer, scheduler, step: int, metrics, best) -> dict[str, Any]:
        return {
            "kind": self.task.kind,
            "model_config": getattr(self.task.model, "config", {}),
            "model": model_state(self.task.model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "step": step,
            "metrics": dict(metrics),
            "best": dict(best),
            **self.extra,
        }

    def fit(self) -> dict[str, Any]:
        """Train (or finish a resumed run); return and write ``summary.json``."""
        task = self.task
        state = open_run(self.out, task.kind, self.resume)
        self.out.mkdir(parents=True, exist_ok=True)
        optimizer, scheduler = task.optimizer()
        step, best = 0, {}
        if state is not None:
            task.model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, best = int(state["step"]), dict(state.get("best", {}))
        log = MetricsLog(self.out, resume_step=step if state is not None else None)
        bar = None
        if self.bar:
            from tqdm import tqdm

            bar = tqdm(total=self.iters, initial=step, desc=task.kind, unit="it")
        started, first, running = time.perf_counter(), step, {}
        batches = task.batches(step)
        while step < self.iters:
            step += 1
            seed_step(getattr(task, "seed", 0), step)
            task.model.train()
            terms = task.loss(step, next(batches))
            check_finite(terms["loss"], step)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            scheduler.step()
            for name, value in terms.items():
                running.setdefault(name, []).append(float(value.detach()))
            if bar is not None:
                bar.update(1)
            if step % self.log_every == 0 or step == self.iters:
                log.log(step, "train", **{k: sum(v) / len(v) for k, v in running.items()})
                running = {}
            if step % self.val_every == 0 or step == self.iters:
                task.model.eval()
                metrics = task.validate(step)
                log.log(step, "val", **metrics)
                value = float(metrics[task.select])
                if not best or (math.isfinite(value) and value > best[task.select]):
                    best = {"step": step, **metrics}
                    save_checkpoint(
                        self.out / "best.pt",
                        self._checkpoint(optimizer, scheduler, step, metrics, best),
                    )
                save_checkpoint(
                    self.out / "checkpoint.pt",
                    self._checkpoint(optimizer, scheduler, step, metrics, best),
                )
                if not self.quiet and bar is None:
                    shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                    print(f"{task.kind} step {step}/{self.iters}: {shown} "
                          f"(best {task.select} {best[task.select]:.4f} at {best['step']})",
                          file=sys.stderr, flush=True)
        if bar is not None:
            bar.close()
        log.plot()
        elapsed = time.perf_counter() - started
        summary = {
            "kind": task.kind,
            "steps": step,
            "steps_this_run": step - first,
            "seconds": round(elapsed, 2),
            "best": best,
        }
        write_json(self.out / "summary.json", summary)
        return summary

    def load_best(self) -> dict[str, Any]:
        """Load ``best.pt``'s weights into the task's model; return the checkpoint."""
        state = load_checkpoint(self.out / "best.pt")
        self.task.model.load_state_dict(state["model"])
        return state


def dumps(summary: dict[str, Any]) -> str:
    """One-line JSON of a summary (for the CLI)."""
    return json.dumps(summary, sort_keys=True)
