"""rankiqa finetune on a tiny fixture dataset: learning, exact resume, ranking init, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.checkpoint import load_checkpoint, save_checkpoint
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.iqa.dataset import IQAImages
from rankiqa.evaluation.protocol import predict
from rankiqa.models import build_model
from rankiqa.training.checkpoint import model_state
from rankiqa.training.finetune import init_head

TINY = [
    "--backbone",
    "alexnet",
    "--head",
    "compact",
    "--crop-size",
    "64",
    "--resize",
    "72",
    "--batch-size",
    "6",
    "--workers",
    "1",
    "--no-progress",
    "--optimizer",
    "adam",
]


def brightness_dataset(root: Path, n: int = 15) -> Path:
    """Images whose score is their brightness: learnable in a few iterations."""
    rows = ["path,score"]
    for i in range(n):
        level = (i * 7) % n / (n - 1)  # 0..1 in a shuffled order
        img = natural_image(72, 90, seed=i).astype(np.float64) * (0.25 + 0.75 * level)
        Image.fromarray(img.astype(np.uint8)).save(root / f"b{i}.png")
        rows.append(f"b{i}.png,{1 + 4 * level:.3f}")
    (root / "scores.csv").write_text("\n".join(rows) + "\n")
    return root / "scores.csv"


def read_metrics(run: Path) -> list[dict[str, str]]:
    import csv

    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_finetune_learns_and_writes_run(tmp_path, capsys):
    csv = brightness_dataset(tmp_path)
    run = tmp_path / "run"
    code = main(
        [
            "finetune",
            "--dataset",
            "csv",
            "--root",
            str(csv),
            "--score-range",
            "1,5",
            "--init",
            "scratch",
            "--out",
            str(run),
            "--iters",
            "36",
            "--val-every",
            "18",
            "--log-every",
            "12",
            "--lr",
            "1e-3",
            *TINY,
        ]
    )
    assert code == 0
    for name in (
        "checkpoint.pt",
        "best.pt",
        "metrics.csv",
        "curves.png",
        "run.json",
        "summary.json",
        "split.json",
    ):
        assert (run / name).is_file(), name
    train = [float(r["loss"]) for r in read_metrics(run) if r["split"] == "train"]
    # 36 steps from scratch: the loss falls to ~0.6x here (0.62x on this CPU, below 0.6x on
    # others); 0.7x still fails for a run that does not learn
    assert len(train) == 3 and train[-1] < 0.7 * train[0]
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["kind"] == "finetune" and ckpt["step"] == 36
    assert ckpt["input"] == {"resize": 72, "test_crops": "crops:30", "crop_size": 64}
    assert ckpt["score"] == {"offset": 0.0, "scale": 1.0}
    split = json.loads((run / "split.json").read_text())["splits"][0]
    assert sorted(split["train"] + split["val"] + split["test"]) == list(range(15))
    assert len(split["test"]) == 3 and len(split["val"]) == 2  # 0.2 of the 12 training images
    # the fine-tuned net's output is on the 0-100 scale of the targets
    table = load_iqa_dataset("csv", csv, score_range=(1, 5))
    net = build_model("alexnet", "compact", input_size=64)
    net.load_state_dict(ckpt["model"])
    pred = predict(net.eval(), IQAImages(table, resize=72, crop_size=64), "center", 64)
    assert 0 < pred.mean() < 100 and np.corrcoef(pred, table.targets)[0, 1] > 0.5
    capsys.readouterr()
    # the run evaluates through the checkpoint
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(run / "best.pt"),
                "--dataset",
                "csv",
                "--root",
                str(csv),
                "--score-range",
                "1,5",
                "--crops",
                "center",
                "--json",
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["splits"][0]["n"] == 15


def test_resume_is_exact(tmp_path):
    csv = brightness_dataset(tmp_path, n=10)
    common = [
        "finetune",
        "--dataset",
        "csv",
        "--root",
        str(csv),
        "--init",
        "scratch",
        "--val-every",
        "2",
        "--lr",
        "1e-4",
        "--log-every",
        "1",
        *TINY,
    ]
    assert main([*common, "--out", str(tmp_path / "a"), "--iters", "4"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--iters", "2"]) == 0
    assert (
        main([*common, "--out", str(tmp_path / "b"), "--iters", "2"]) == 2
    )  # exists: needs --resume
    assert main([*common, "--out", str(tmp_path / "b"), "--iters", "4", "--resume"]) == 0
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["step"] == b["step"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert [r["loss"] for r in read_metrics(tmp_path / "a")] == [
        r["loss"] for r in read_metrics(tmp_path / "b")
    ]


def test_rank_init_calibrates_head(tmp_path):
    csv = brightness_dataset(tmp_path, n=10)
    table = load_iqa_dataset("csv", csv)
    torch.manual_seed(0)
    net = build_model("alexnet", "compact", input_size=64)
    images = IQAImages(table, resize=72, crop_size=64, cache=True)
    before = predict(net.eval(), images, "center", 64)
    info = init_head(net, "calibrate", "rank", images, 64)
    after = predict(net.eval(), images, "center", 64)
    # a linear map of the ranking scores with a positive slope: same order, least squares when
    # the fitted slope is positive, else a tenth of the moment-matched slope
    assert info["a"] > 0
    assert np.argsort(before).tolist() == np.argsort(after).tolist()
    slope = np.polyfit(before, table.targets, 1)[0]
    expected_a = max(slope, 0.1 * np.std(table.targets) / np.std(before))
    assert info["a"] == pytest.approx(expected_a, rel=1e-6)
    np.testing.assert_allclose(after, info["a"] * before + info["b"], rtol=1e-4, atol=1e-3)
    assert after.mean() == pytest.approx(np.mean(table.targets), abs=1e-3)
    # and through the CLI, from a train-rank checkpoint
    rank = tmp_path / "rank.pt"
    save_checkpoint(
        rank,
        {
            "kind": "rank",
            "model_config": net.config,
            "model": model_state(net),
            "step": 1,
            "args": {},
            "metrics": {},
        },
    )
    run = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--dataset",
                "csv",
                "--root",
                str(csv),
                "--init",
                str(rank),
                "--out",
                str(run),
                "--iters",
                "1",
                "--val-every",
                "1",
                *TINY[6:],
            ]
        )
        == 0
    )
    head = json.loads((run / "run.json").read_text())["head_init"]
    assert head["head"] == "ranking head calibrated" and np.isfinite(head["a"])


def test_finetune_errors(tmp_path, capsys):
    csv = brightness_dataset(tmp_path, n=6)
    base = [
        "finetune",
        "--dataset",
        "csv",
        "--root",
        str(csv),
        "--out",
        str(tmp_path / "r"),
        "--iters",
        "1",
    ]
    assert main([*base, "--init", str(tmp_path / "nope.pt")]) == 2
    assert "--init" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:  # the backbone table's names, at parse time
        main([*base, "--init", "scratch", "--backbone", "nope"])
    assert refused.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    assert main([*base, "--init", "scratch", "--split-file", str(tmp_path / "s.json")]) == 2
    assert "s.json: split file not found" in capsys.readouterr().err


def test_all_images_trains_on_everything_and_writes_best(tmp_path):
    csv = brightness_dataset(tmp_path, n=8)
    run = tmp_path / "run"
    args = ["finetune", "--dataset", "csv", "--root", str(csv), "--score-range", "1,5"]
    code = main(
        [*args, *TINY, "--init", "scratch", "--out", str(run), "--all-images", "--iters", "4"]
    )
    assert code == 0
    best = load_checkpoint(run / "best.pt")
    assert best["step"] == 4 and len(best["split"]["train"]) == 8 and best["split"]["test"] == []
    assert not [r for r in read_metrics(run) if r["split"] == "val"]
    clash = ["--all-images", "--official-split", "--init", "scratch", "--out", str(tmp_path / "x")]
    assert main([*args, *clash, "--iters", "1"]) == 2


def test_best_checkpoint_is_chosen_on_validation_never_on_test(tmp_path, monkeypatch):
    """Every validation during training sees only the validation part; the test part is
    scored once, at the end, with best.pt."""
    import rankiqa.training.finetune as ft

    csv = brightness_dataset(tmp_path, n=15)
    seen: list[set[str]] = []
    real_validate = ft.validate

    def recording_validate(model, images, *args, **kwargs):
        seen.append({str(r.path) for r in images.table.records})
        return real_validate(model, images, *args, **kwargs)

    monkeypatch.setattr(ft, "validate", recording_validate)
    run = tmp_path / "run"
    args = ["finetune", "--dataset", "csv", "--root", str(csv), "--score-range", "1,5"]
    args += [*TINY, "--init", "scratch", "--out", str(run), "--iters", "6", "--val-every", "2"]
    assert main([*args, "--lr", "1e-3", "--val-fraction", "0.25"]) == 0
    table = load_iqa_dataset("csv", csv, score_range=(1, 5))
    split = load_checkpoint(run / "checkpoint.pt")["split"]
    paths = {k: {str(table.records[i].path) for i in split[k]} for k in ("train", "val", "test")}
    assert len(paths["val"]) == 3 and len(paths["test"]) == 3 and len(paths["train"]) == 9
    assert not (paths["val"] & paths["test"]) and not (paths["val"] & paths["train"])
    assert seen[:-1] == [paths["val"]] * 3  # steps 2, 4, 6: validation part only
    assert seen[-1] == paths["test"]  # once, at the end
    summary = json.loads((run / "summary.json").read_text())
    best = load_checkpoint(run / "best.pt")
    val_rows = [r for r in read_metrics(run) if r["split"] == "val"]
    best_row = max(val_rows, key=lambda r: float(r["srocc"]))
    assert best["step"] == summary["best"]["step"] == summary["test"]["step"]
    assert float(best_row["srocc"]) == pytest.approx(summary["best"]["srocc"])
    assert summary["val_images"] == 3 and summary["test_images"] == 3


def test_resume_auto_starts_or_continues(tmp_path):
    csv = brightness_dataset(tmp_path, n=8)
    args = ["finetune", "--dataset", "csv", "--root", str(csv), *TINY, "--init", "scratch"]
    args += ["--out", str(tmp_path / "run"), "--val-every", "2", "--resume", "auto"]
    assert main([*args, "--iters", "2"]) == 0  # no run yet: starts
    assert main([*args, "--iters", "4"]) == 0  # continues
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 4


def test_without_a_terminal_one_line_per_validation(tmp_path, capsys):
    csv = brightness_dataset(tmp_path, n=8)
    tiny = [a for a in TINY if a != "--no-progress"]  # capsys: stderr is not a terminal
    args = ["finetune", "--dataset", "csv", "--root", str(csv), *tiny, "--init", "scratch"]
    assert main([*args, "--out", str(tmp_path / "run"), "--iters", "2", "--val-every", "1"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["finetune step 1/2", "finetune step 2/2"]
    assert "srocc" in lines[-1] and "(best srocc" in lines[-1]


def test_val_fraction_zero_trains_on_the_whole_training_part(tmp_path):
    csv = brightness_dataset(tmp_path, n=10)
    run = tmp_path / "run"
    args = ["finetune", "--dataset", "csv", "--root", str(csv), *TINY, "--init", "scratch"]
    assert (
        main([*args, "--out", str(run), "--iters", "4", "--val-every", "2", "--val-fraction", "0"])
        == 0
    )
    best = load_checkpoint(run / "best.pt")
    assert best["step"] == 4 and best["split"]["val"] == []
    assert len(best["split"]["train"]) == 8 and len(best["split"]["test"]) == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["step"] == 4 and not [
        r for r in read_metrics(run) if r["split"] == "val"
    ]


# ----------------------------------------------------------------------------- ranking kept


def test_step_loss_adds_the_weighted_hinge_of_the_ranked_batch():
    """One forward pass over both batches; the loss is regression + weight x hinge."""
    from rankiqa.losses.ranking import RankingHingeLoss, ranking_hinge_loss
    from rankiqa.training.finetune import loss_fn, step_loss

    torch.manual_seed(0)
    model = build_model("alexnet", "compact", input_size=64).eval()  # no dropout
    x, y = torch.rand(3, 3, 64, 64), torch.tensor([20.0, 50.0, 80.0])
    ranked = torch.rand(4, 3, 64, 64)
    groups, levels, refs = (
        torch.zeros(4, dtype=torch.long),
        torch.arange(4),
        torch.zeros(4, dtype=torch.long),
    )
    with torch.no_grad():
        hinge = float(
            ranking_hinge_loss(model(ranked), groups, levels, refs, margin=5.0, reduction="pairs")
        )
        expected = float(loss_fn("mse")(model(x), y)) + 0.5 * hinge
    terms = step_loss(model, x, y, loss_fn("mse"), (ranked, groups, levels, refs),
                      RankingHingeLoss(5.0, "reference", "pairs"), 0.5)
    assert float(terms["loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(terms["rank_loss"]) == pytest.approx(hinge, rel=1e-5) and hinge > 0


def _ranked_finetune_args(tmp_path, n=10):
    from ranked_fixtures import make_ranked_set

    csv = brightness_dataset(tmp_path, n=n)
    sets = [
        make_ranked_set(tmp_path / name, references=2, groups=("blur", "noise"), size=(64, 72))
        for name in ("ranked", "more")
    ]
    args = ["finetune", "--dataset", "csv", "--root", str(csv), *TINY, "--init", "scratch"]
    return args + ["--rank-data", *map(str, sets), "--rank-layout", "2x4x1", "--lr", "1e-3"]


def test_finetune_with_ranking_learns_both_and_resumes_exactly(tmp_path):
    args = _ranked_finetune_args(tmp_path)
    run = tmp_path / "a"
    assert (
        main([*args, "--out", str(run), "--iters", "24", "--val-every", "12", "--log-every", "6"])
        == 0
    )
    rows = [r for r in read_metrics(run) if r["split"] == "train"]
    hinge = [float(r["rank_loss"]) for r in rows]
    assert len(hinge) == 4 and all(np.isfinite(hinge)) and hinge[-1] < hinge[0]
    folders = json.loads((run / "run.json").read_text())["args"]["rank_data"]
    assert [Path(f).name for f in folders] == ["ranked", "more"]
    # interrupted after 12 steps and resumed: the same ranked batches, the same weights
    b = tmp_path / "b"
    common = [*args, "--out", str(b), "--val-every", "12", "--log-every", "6"]
    assert main([*common, "--iters", "12"]) == 0
    assert main([*common, "--iters", "24", "--resume"]) == 0
    wa, wb = load_checkpoint(run / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
    for key, value in wa["model"].items():
        assert torch.equal(value, wb["model"][key]), key


def test_ranking_options_fail_in_one_line(tmp_path, capsys):
    args = _ranked_finetune_args(tmp_path, n=6)
    out = ["--out", str(tmp_path / "r"), "--iters", "1"]
    missing = [a if not a.endswith("ranked") else str(tmp_path / "nowhere") for a in args]
    assert main([*missing, *out]) == 2
    assert "nowhere: ranked-set folder not found" in capsys.readouterr().err
    assert main([*args, *out, "--rank-layout", "5x4x1"]) == 2
    assert "--layout 5x4x1: needs 5 distortion groups" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: usage + one error line
        main([*args, *out, "--rank-weight", "0"])
    assert exc.value.code == 2 and "--rank-weight" in capsys.readouterr().err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
