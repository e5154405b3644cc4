"""End-to-end ranking training on a tiny ranked set: outputs, exact resume, seeds, NaN stop."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch

from ranked_fixtures import make_ranked_set
from rankiqa.cli import main
from rankiqa.core.checkpoint import load_checkpoint, save_checkpoint
from rankiqa.core.errors import UserError
from rankiqa.models.loading import load_quality_net
from rankiqa.training.optim import NonFiniteLossError
from rankiqa.training.options import RankTrainConfig
from rankiqa.training.rank import ranking_metrics, train_rank


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_ranked_set(tmp_path_factory.mktemp("ranked"), references=5, size=(40, 48))


def tiny(data, out, **kw) -> RankTrainConfig:
    base = dict(
        data=str(data),
        out=str(out),
        backbone="alexnet",
        head="compact",
        layout="2x3x2",
        crop_size=64,
        iters=6,
        val_every=2,
        log_every=1,
        optimizer="adam",
        lr=1e-4,
        margin=1.0,
        workers=0,
        progress=False,
        seed=1,
    )
    base.update(kw)
    return RankTrainConfig(**base)


def params(path):
    return load_checkpoint(path)["model"]


def test_training_writes_run_and_learns_to_rank(data, tmp_path):
    summary = train_rank(tiny(data, tmp_path / "run", iters=8, val_every=4, layout="4x6x1"))
    run = tmp_path / "run"
    for name in ("checkpoint.pt", "best.pt", "metrics.csv", "curves.png", "run.json"):
        assert (run / name).is_file(), name
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["kind"] == "rank" and state["step"] == 8
    assert state["model_config"]["backbone"] == "alexnet"
    assert 0 <= summary["val"]["pair_acc"] <= 1
    # the fixture's distortions are easy: a few Adam steps already rank well above chance
    assert summary["best"]["pair_acc"] > 0.7
    net = load_quality_net(run / "best.pt")
    assert not net.training
    assert net(torch.rand(2, 3, 64, 64)).shape == (2,)
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows if r["split"] == "val"] == ["0", "4", "8"]
    assert {"loss", "pair_acc", "srcc", "lr"} <= set(rows[0])


def test_resume_after_kill_equals_uninterrupted_run(data, tmp_path):
    full = tmp_path / "full"
    train_rank(tiny(data, full, val_every=3))

    def kill_at_5(step, loss):
        if step == 5:
            raise KeyboardInterrupt  # dies after the checkpoint of step 3

    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train_rank(tiny(data, killed, val_every=3), on_step=kill_at_5)
    assert load_checkpoint(killed / "checkpoint.pt")["step"] == 3
    different = params(killed / "checkpoint.pt")
    assert any(not torch.equal(different[k], v) for k, v in params(full / "checkpoint.pt").items())

    with pytest.raises(UserError, match="--resume"):
        train_rank(tiny(data, killed, val_every=3))
    train_rank(tiny(data, killed, val_every=3, resume=True))
    a, b = params(full / "checkpoint.pt"), params(killed / "checkpoint.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # metrics rows logged after the last checkpoint of the killed run are not duplicated
    with open(killed / "metrics.csv") as fh:
        steps = [(r["step"], r["split"]) for r in csv.DictReader(fh)]
    assert len(steps) == len(set(steps))
    with open(full / "metrics.csv") as fh:
        assert [(r["step"], r["split"]) for r in csv.DictReader(fh)] == steps


def test_different_seed_differs(data, tmp_path):
    # (same seed -> identical run is checked by the resume test above)
    cfg = tiny(data, tmp_path / "a", iters=2, val_every=2)
    train_rank(cfg)
    train_rank(dataclasses.replace(cfg, out=str(tmp_path / "c"), seed=2))
    a, c = (params(tmp_path / n / "checkpoint.pt") for n in "ac")
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_nan_loss_stops_with_clear_error(data, tmp_path):
    with pytest.raises(NonFiniteLossError, match="iteration 1"):
        train_rank(tiny(data, tmp_path / "nan", margin=float("nan")))


def test_cli_shallow_and_errors(data, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["train-rank", "--data", str(data), "--out", str(out), "--backbone", "shallow"]
    argv += ["--layout", "2x2x1", "--iters", "2", "--val-every", "2", "--workers", "0"]
    assert main([*argv, "--no-progress", "--crop-size", "192"]) == 0
    assert '"steps": 2' in capsys.readouterr().out
    assert load_checkpoint(out / "best.pt")["model_config"]["backbone"] == "shallow"
    assert main([*argv, "--out", str(tmp_path / "x"), "--crop-size", "32"]) == 2
    assert "--crop-size 32 is too small" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "y"), "--layout", "9x5x1"]) == 2
    assert "--layout 9x5x1" in capsys.readouterr().err
    assert main(["train-rank", "--data", str(tmp_path), "--out", str(tmp_path / "z")]) == 2
    assert "manifest not found" in capsys.readouterr().err


def test_checkpoint_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a rankiqa checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}})


def test_ranking_metrics_perfect_and_reversed():
    import numpy as np

    refs = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    groups = np.array([-1, 0, 0, 1, 1, -1, 0, 0])
    levels = np.array([0, 1, 2, 1, 2, 0, 1, 2])
    scores = -levels.astype(float) * 20
    m = ranking_metrics(scores, refs, groups, levels, margin=10)
    assert m["pair_acc"] == 1 and m["srcc"] == pytest.approx(1) and m["hinge"] == 0
    m = ranking_metrics(-scores, refs, groups, levels, margin=10)
    assert m["pair_acc"] == 0 and m["srcc"] == pytest.approx(-1)


def test_imagenet_weights_offline_fail_in_one_line(data, tmp_path, capsys, monkeypatch):
    import urllib.error

    import torch.hub

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # nothing cached
    monkeypatch.setattr(torch.hub, "urlopen", offline)
    argv = ["train-rank", "--data", str(data), "--out", str(tmp_path / "run"), "--workers", "0"]
    assert main([*argv, "--backbone-weights", "imagenet", "--layout", "2x2x1", "--iters", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rankiqa: error: cannot download")
    assert "--backbone-weights PATH" in err[0] and "Traceback" not in err[0]


def test_resume_auto_starts_then_continues(data, tmp_path):
    config = tiny(data, tmp_path / "run", iters=2, resume="auto")
    assert train_rank(config)["steps"] == 2  # nothing to resume: starts
    assert train_rank(tiny(data, tmp_path / "run", iters=4, resume="auto"))["steps"] == 4
    with pytest.raises(UserError, match="--resume"):
        train_rank(tiny(data, tmp_path / "run", iters=6))  # plain start over a run: refused


def test_metrics_columns_are_those_of_the_docs(data, tmp_path):
    import re

    doc = (Path(__file__).resolve().parents[1] / "docs" / "ranking.md").read_text()
    documented = re.search(r"\| `metrics.csv` \| `([^`]+)`", doc).group(1).split(", ")
    train_rank(tiny(data, tmp_path / "run", iters=2))
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header == documented


def test_curves_have_no_empty_panel(tmp_path) -> None:
    from PIL import Image

    from rankiqa.training.metrics_log import MetricsLog

    log = MetricsLog(tmp_path, columns=("loss", "rank_loss"))
    for step in (1, 2, 3):
        log.log(step, "train", loss=1.0 / step)  # finetune without a ranking term
    with Image.open(log.plot()) as png:
        assert png.size == (450, 320)  # one panel (4.5 x 3.2 in at 100 dpi), not two


def test_without_a_terminal_progress_lines(data, tmp_path, capsys):
    argv = ["train-rank", "--data", str(data), "--head", "compact", "--layout", "2x2x1"]
    argv += ["--crop-size", "64", "--workers", "0", "--out"]
    assert main([*argv, str(tmp_path / "a"), "--iters", "4", "--val-every", "2"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()  # capsys: stderr is not a terminal
    assert [line.split(" (")[0] for line in lines] == [f"rank step {s}/4" for s in (1, 2, 3, 4)]
    assert "s/step, ~" in lines[0] and "pair_acc" not in lines[0]  # no validation at step 1
    assert "pair_acc" in lines[1] and "(best pair_acc" in lines[-1]
    # validations further apart than ~5% of the run: a line every 5% as well
    assert main([*argv, str(tmp_path / "b"), "--iters", "40", "--val-every", "20"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"rank step {s}/40" for s in range(2, 41, 2)]
    assert lines[-1].startswith("rank step 40/40 (100%), ") and "(best pair_acc" in lines[-1]
    assert main([*argv, str(tmp_path / "c"), "--iters", "2", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
