"""Two CPU processes (torchrun, gloo) train the same model as one process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from ranked_fixtures import make_ranked_set
from rankiqa.cli import main
from rankiqa.core.checkpoint import load_checkpoint
from rankiqa.core.seeding import seed_everything
from rankiqa.models import build_model


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_two_process_ddp_matches_single_process(tmp_path):
    data = make_ranked_set(tmp_path / "data", references=4, size=(40, 48))
    common = ["train-rank", "--data", str(data), "--backbone", "alexnet", "--head", "compact"]
    common += ["--layout", "2x3x2", "--crop-size", "64", "--iters", "3", "--val-every", "3"]
    common += ["--dropout", "0", "--lr", "1e-3", "--margin", "1", "--workers", "0", "--seed", "3"]
    common += ["--no-progress", "--device", "cpu"]

    single = tmp_path / "single"
    assert main([*common, "--out", str(single)]) == 0

    ddp = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "rankiqa", *common, "--out", str(ddp)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a = load_checkpoint(single / "checkpoint.pt")
    b = load_checkpoint(ddp / "checkpoint.pt")
    assert a["step"] == b["step"] == 3
    seed_everything(3)  # the initial model of both runs
    start = build_model("alexnet", "compact", input_size=64).state_dict()
    moved = 0
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=1e-4, atol=1e-6, msg=key)
        moved += not torch.equal(value, start[key])
    assert moved == len(start)  # every tensor was trained
    # the validation of rank 0 sees the same model
    assert b["metrics"]["pair_acc"] == pytest.approx(a["metrics"]["pair_acc"])
    assert '"world_size": 2' in (ddp / "run.json").read_text()
