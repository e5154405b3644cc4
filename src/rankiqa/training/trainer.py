"""One trainer for every rankiqa training task.

The :class:`Trainer` owns what every run needs — the run folder, resume, the loop, logging
(``metrics.csv``, ``curves.png``, a progress bar on a terminal; in a log, a line per validation
and every ~5% of the run), checkpoints (``checkpoint.pt`` at each validation, ``best.pt`` when the selection metric
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

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from rankiqa.core.checkpoint import load_checkpoint, save_checkpoint
from rankiqa.core.errors import UserError
from rankiqa.core.files import write_json
from rankiqa.core.seeding import seed_step
from rankiqa.training.checkpoint import model_state
from rankiqa.training.distributed import all_reduce_sum, barrier, get_rank, get_world_size
from rankiqa.training.metrics_log import MetricsLog
from rankiqa.training.optim import check_finite
from rankiqa.training.run_folder import open_run

__all__ = ["Task", "Trainer", "resumed_config"]

C = TypeVar("C")


class Task(Protocol):
    """What a training task tells the :class:`Trainer`.

    Optional members: ``seed`` (of the per-step randomness, default 0), ``columns`` (the order
    of ``metrics.csv``'s metric columns), ``validate_first`` (also validate at step 0 of a fresh
    run: the start of the curves, never a best), ``info`` (facts the summary reports),
    ``train_metrics()`` (more train-row metrics over the steps since the last row; called on
    every process) and ``test()`` (after training, with ``best.pt``'s weights: the summary's
    ``test``).
    """

    kind: str  #: checkpoint kind (a resume of another kind is refused)
    #: the validation metric(s) that choose ``best.pt`` (higher is better; a tuple compares in order)
    select: str | tuple[str, ...]
    model: nn.Module  #: what is trained and checkpointed (unwrapped; ``loss`` may use a DDP wrapper)

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        """The optimizer and its scheduler (stepped once per iteration)."""

    def batches(self, start: int) -> Iterator[Any]:
        """Training batches for the steps after ``start`` (a resumed run replays exactly)."""

    def loss(self, step: int, batch: Any) -> dict[str, torch.Tensor]:
        """The loss terms of one batch; ``"loss"`` (their weighted sum) is back-propagated."""

    def validate(self, step: int) -> dict[str, float]:
        """Validation metrics, ``select`` among them; ``{}`` when there is nothing to validate
        on (``best.pt`` is then the last step)."""


def resumed_config(config: C, state: dict[str, Any], keep: tuple[str, ...]) -> C:
    """The options (a dataclass like ``config``) of a resumed run: those its checkpoint saved
    under ``args``, except the names in ``keep``, which come from ``config``."""
    known = {f.name for f in dataclasses.fields(config)}
    saved = {k: v for k, v in state.get("args", {}).items() if k in known}
    return type(config)(**{**saved, **{k: getattr(config, k) for k in keep}})


class Trainer:
    """Runs a :class:`Task` for ``iters`` steps in run folder ``out``.

    ``resume``: ``False`` (a new run; refused over an existing one), ``True`` or ``"auto"``
    (see :func:`rankiqa.training.run_folder.open_run`), or the checkpoint ``open_run`` already
    returned (for a task rebuilt from it). ``extra`` is stored in every checkpoint (e.g. the
    options that rebuild the task). ``progress``: ``None`` shows a bar on a terminal and prints
    a line at each validation (and every ~5% of the run when validations are further apart)
    otherwise; ``False`` neither. ``on_step(step, loss)`` is called
    after every optimizer step. Under ``torchrun`` every process trains; only rank 0
    validates and writes files.
    """

    def __init__(
        self,
        task: Task,
        out: str | Path,
        iters: int,
        val_every: int,
        log_every: int = 10,
        resume: bool | str | dict[str, Any] = False,
        progress: bool | None = None,
        extra: dict[str, Any] | None = None,
        on_step: Callable[[int, float], None] | None = None,
    ):
        if iters < 1 or val_every < 1 or log_every < 1:
            raise UserError("--iters, --val-every and --log-every must be positive")
        self.task, self.out, self.iters = task, Path(out), int(iters)
        self.val_every, self.log_every = int(val_every), int(log_every)
        self.resume, self.extra, self.on_step = resume, dict(extra or {}), on_step
        self.bar = sys.stderr.isatty() if progress is None else progress
        self.quiet = progress is False
        select = task.select
        self.keys = (select,) if isinstance(select, str) else tuple(select)

    def _checkpoint(self, optimizer, scheduler, step: int, metrics, best) -> dict[str, Any]:
        """The checkpoint of ``step`` (docs/contracts.md contract 2)."""
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

    def _better(self, metrics: dict[str, float], best: dict[str, Any]) -> bool:
        new = tuple(float(metrics[k]) for k in self.keys)
        return not best or (math.isfinite(new[0]) and new > tuple(best[k] for k in self.keys))

    def fit(self) -> dict[str, Any]:
        """Train (or finish a resumed run); return and write ``summary.json``."""
        task, main, world = self.task, get_rank() == 0, get_world_size()
        if isinstance(self.resume, dict):
            state = self.resume
        else:
            state = open_run(self.out, task.kind, self.resume)
        self.out.mkdir(parents=True, exist_ok=True)
        optimizer, scheduler = task.optimizer()
        step, best, metrics, initial = 0, {}, {}, {}
        if state is not None:
            task.model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            step, best = int(state["step"]), dict(state.get("best", {}))
        log = MetricsLog(self.out, resume_step=step if state is not None else None,
                         enabled=main, columns=tuple(getattr(task, "columns", ())))
        started, first, running, last_plot = time.perf_counter(), step, {}, time.perf_counter()
        # without a bar: a line at each validation, and every ~5% when they are further apart
        every = max(1, self.iters // 20) if self.val_every > self.iters // 20 else self.iters + 1
        if state is None and getattr(task, "validate_first", False):
            if main:
                task.model.eval()
                initial = task.validate(0)
                log.log(0, "val", **initial)
            barrier()
        bar = None
        if self.bar and main:
            from tqdm import tqdm

            bar = tqdm(total=self.iters, initial=step, desc=task.kind, unit="it")
        batches = task.batches(step)
        while step < self.iters:
            batch = next(batches)
            step += 1
            seed_step(getattr(task, "seed", 0), step, get_rank())
            task.model.train()
            terms = task.loss(step, batch)
            values = torch.stack([t.detach().float().reshape(()) for t in terms.values()])
            values = dict(zip(terms, (all_reduce_sum(values) / world).tolist(), strict=True))
            check_finite(values["loss"], step)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            scheduler.step()
            for name, value in values.items():
                running.setdefault(name, []).append(value)
            if self.on_step is not None:
                self.on_step(step, values["loss"])
            if bar is not None:
                shown = {k: f"{metrics[k]:.3f}" for k in self.keys if k in metrics}
                bar.set_postfix(loss=f"{values['loss']:.3g}", **shown, refresh=False)
                bar.update(1)
            if step % self.log_every == 0 or step == self.iters:
                extra = task.train_metrics() if hasattr(task, "train_metrics") else {}
                log.log(step, "train", **{k: sum(v) / len(v) for k, v in running.items()},
                        lr=optimizer.param_groups[0]["lr"], **extra)
                running = {}
            if (step % self.val_every == 0 or step == self.iters) and main:
                task.model.eval()
                metrics = task.validate(step)
                if metrics:
                    log.log(step, "val", **metrics)
                    if self._better(metrics, best):
                        best = {"step": step, **metrics}
                ckpt = self._checkpoint(optimizer, scheduler, step, metrics, best)
                if (metrics and best["step"] == step) or (not metrics and step == self.iters):
                    save_checkpoint(self.out / "best.pt", ckpt)
                save_checkpoint(self.out / "checkpoint.pt", ckpt)
                if time.perf_counter() - last_plot > 60:  # matplotlib is slow next to a step
                    log.plot()
                    last_plot = time.perf_counter()
            validated = step % self.val_every == 0 or step == self.iters
            if validated:
                barrier()
            if main and bar is None and not self.quiet and (validated or step % every == 0):
                self._print(step, values["loss"], metrics if validated else {}, best,
                            (time.perf_counter() - started) / (step - first))
        if bar is not None:
            bar.close()
        log.plot()
        elapsed = time.perf_counter() - started
        summary = {
            "kind": task.kind,
            "steps": step,
            "steps_this_run": step - first,
            "seconds": round(elapsed, 2),
            "seconds_per_step": elapsed / max(step - first, 1),
            "run_dir": str(self.out),
            "val": metrics,
            "best": best,
            **getattr(task, "info", {}),
        }
        if getattr(task, "validate_first", False):
            summary["initial_val"] = initial
        if hasattr(task, "test") and main:
            summary["test"] = self._test()
        if main:
            write_json(self.out / "summary.json", summary)
        return summary

    def _print(self, step: int, loss: float, metrics: dict, best: dict, rate: float) -> None:
        left = rate * (self.iters - step) / 60
        shown = "".join(f" {k} {v:.4f}" for k, v in metrics.items())
        key = self.keys[0]
        chosen = f" (best {key} {best[key]:.4f} at step {best['step']})" if metrics else ""
        print(f"{self.task.kind} step {step}/{self.iters} ({100 * step // self.iters}%), "
              f"{rate:.2f} s/step, ~{left:.1f} min left: loss {loss:.4f}{shown}{chosen}",
              file=sys.stderr, flush=True)

    def _test(self) -> dict[str, Any]:
        if not (self.out / "best.pt").is_file():
            return {}
        state = self.load_best()
        result = self.task.test()
        return {"step": int(state["step"]), **result} if result else {}

    def load_best(self) -> dict[str, Any]:
        """Load ``best.pt``'s weights into the task's model; return the checkpoint."""
        state = load_checkpoint(self.out / "best.pt")
        self.task.model.load_state_dict(state["model"])
        return state


def dumps(summary: dict[str, Any]) -> str:
    """One-line JSON of a summary (for the CLI)."""
    return json.dumps(summary, sort_keys=True)
