"""rankiqa evaluate on a tiny fixture dataset with a tiny model; the protocol and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.checkpoint import save_checkpoint
from rankiqa.data.iqa import load_iqa_dataset
from rankiqa.data.iqa.dataset import IQAImages
from rankiqa.data.iqa.transforms import eval_views
from rankiqa.evaluation.metrics import bootstrap_interval, srocc
from rankiqa.evaluation.protocol import predict
from rankiqa.models import build_model
from rankiqa.training.checkpoint import model_state


def make_csv_dataset(root: Path, n: int = 12) -> Path:
    rows = ["path,score,reference,distortion"]
    for i in range(n):
        img = natural_image(72 + 4 * (i % 3), 96, seed=i)
        Image.fromarray(img).save(root / f"img{i}.png")
        rows.append(f"img{i}.png,{1 + (i * 7) % 5},ref{i // 3},{'blur' if i % 2 else 'noise'}")
    csv = root / "scores.csv"
    csv.write_text("\n".join(rows) + "\n")
    return csv


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    torch.manual_seed(0)
    net = build_model("alexnet", "compact", input_size=64)
    path = tmp_path / "run" / "best.pt"
    path.parent.mkdir()
    save_checkpoint(
        path,
        {
            "kind": "finetune",
            "model_config": net.config,
            "model": model_state(net),
            "step": 0,
            "args": {},
            "metrics": {},
            "input": {"resize": 80, "test_crops": "grid:2", "crop_size": 64},
        },
    )
    return path


def test_evaluate_json(tmp_path, tiny_checkpoint, capsys):
    csv = make_csv_dataset(tmp_path)
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_checkpoint),
            "--dataset",
            "csv",
            "--root",
            str(csv),
            "--json",
            "--no-progress",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pooling"] == {"test_crops": "grid:2", "crop_size": 64, "resize": 80}
    (only,) = report["splits"]
    assert only["split"] == "all" and only["n"] == 12
    assert set(only["per_type"]) == {"blur", "noise"} and only["per_type"]["blur"]["n"] == 6
    pred = report["predictions"]["prediction"]
    targets = report["predictions"]["target"]
    assert only["metrics"]["srocc"] == pytest.approx(srocc(pred, targets))
    # the interval is the bootstrap over these 12 images, around the estimate
    low, high = only["srocc_ci95"]
    assert low <= only["metrics"]["srocc"] <= high and high - low > 0
    assert [low, high] == [round(v, 4) for v in bootstrap_interval(pred, targets, resamples=1000)]
    text_args = ["evaluate", "--model", str(tiny_checkpoint), "--dataset", "csv", "--root", str(csv)]
    assert main([*text_args, "--no-progress"]) == 0
    assert f"SROCC 95 % bootstrap interval over the images: [{low:.4f}, {high:.4f}]" in (
        capsys.readouterr().out)
    # the predictions are the network's mean over the 2×2 grid of 64-px crops of the 80-px image
    from rankiqa.models.loading import load_quality_net

    net = load_quality_net(tiny_checkpoint)
    table = load_iqa_dataset("csv", csv)
    images = IQAImages(table, resize=80, crop_size=64)
    with torch.no_grad():
        views = eval_views(images.image(3), "grid:2", 64)
        assert views.shape == (4, 3, 64, 64)
        assert pred[3] == pytest.approx(float(net(views).mean()), rel=1e-4)


def test_evaluate_splits_summary_and_plot(tmp_path, tiny_checkpoint, capsys):
    csv = make_csv_dataset(tmp_path)
    splits = tmp_path / "splits.json"
    assert (
        main(
            [
                "datasets",
                "--dataset",
                "csv",
                "--root",
                str(csv),
                "--make-splits",
                str(splits),
                "--splits",
                "3",
                "--json",
            ]
        )
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["images"] == 12 and info["references"] == 4 and len(info["splits"]) == 3
    plot = tmp_path / "scatter.png"
    out = tmp_path / "report.json"
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_checkpoint),
            "--dataset",
            "csv",
            "--root",
            str(csv),
            "--split-file",
            str(splits),
            "--crops",
            "center",
            "--plot",
            str(plot),
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "median" in text and "SROCC" in text and "PLCC log5" in text and "PLCC raw" in text
    report = json.loads(out.read_text())
    assert [s["split"] for s in report["splits"]] == [0, 1, 2]
    assert all(s["n"] == 3 for s in report["splits"])  # one reference of 4 → 3 images
    values = [s["metrics"]["srocc"] for s in report["splits"]]
    finite = [v for v in values if np.isfinite(v)]
    assert report["summary"]["srocc"]["median"] == pytest.approx(np.median(finite))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one split only
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tiny_checkpoint),
                "--dataset",
                "csv",
                "--root",
                str(csv),
                "--split-file",
                str(splits),
                "--split-index",
                "1",
                "--json",
                "--crops",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert len(report["splits"]) == 1 and report["pooling"]["test_crops"] == "crops:3"
    assert "summary" not in report


def test_evaluate_model_file(tmp_path, tiny_checkpoint, capsys):
    from rankiqa.inference import load_model
    from rankiqa.inference.model.saving import save_model

    model_file = save_model(load_model(tiny_checkpoint), tmp_path / "tiny.safetensors")
    csv = make_csv_dataset(tmp_path, n=6)
    args = ["--dataset", "csv", "--root", str(csv), "--json", "--crops", "center", "--no-progress"]
    assert main(["evaluate", "--model", str(model_file), *args]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["evaluate", "--model", str(tiny_checkpoint), *args]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["predictions"]["prediction"] == pytest.approx(b["predictions"]["prediction"], rel=1e-5)


def test_evaluate_errors(tmp_path, tiny_checkpoint, capsys):
    csv = make_csv_dataset(tmp_path, n=4)
    base = ["evaluate", "--model", str(tiny_checkpoint), "--dataset", "csv", "--root", str(csv)]
    with pytest.raises(SystemExit) as exc:  # refused while parsing, with evaluate's usage
        main([*base, "--crops", "lots"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("usage: rankiqa evaluate") and "--crops" in err
    assert main([*base, "--split-file", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: split file not found" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "missing.pt"),
                "--dataset",
                "csv",
                "--root",
                str(csv),
            ]
        )
        == 2
    )


def test_predict_reproducible_random_crops(tmp_path):
    csv = make_csv_dataset(tmp_path, n=4)
    torch.manual_seed(0)
    net = build_model("alexnet", "compact", input_size=64).eval()
    images = IQAImages(load_iqa_dataset("csv", csv), resize=None, crop_size=64)
    a = predict(net, images, "crops:4", 64)
    b = predict(net, images, "crops:4", 64)
    c = predict(net, images, "crops:4", 64, seed=1)
    assert a.shape == (4,) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_evaluate_model_is_the_cli_report(tmp_path, tiny_checkpoint, capsys):
    """The library function gives the numbers of ``rankiqa evaluate`` (same protocol)."""
    from rankiqa.data.splits import choose_splits
    from rankiqa.evaluation.protocol import evaluate_model

    csv = make_csv_dataset(tmp_path)
    table = load_iqa_dataset("csv", csv)
    args = ["evaluate", "--model", str(tiny_checkpoint), "--dataset", "csv", "--root", str(csv)]
    assert main([*args, "--json", "--no-progress", "--crops", "center", "--no-per-type"]) == 0
    cli = json.loads(capsys.readouterr().out)
    report = evaluate_model(
        str(tiny_checkpoint), table, choose_splits(table), test_crops="center", per_type=False
    )
    assert report["predictions"]["prediction"] == pytest.approx(cli["predictions"]["prediction"])
    assert report["pooling"] == cli["pooling"] == {"test_crops": "center", "crop_size": 64, "resize": 80}
    assert "per_type" not in report["splits"][0] and report["model"] == str(tiny_checkpoint)
    native = evaluate_model(str(tiny_checkpoint), table, resize=None, test_crops="4")
    assert native["pooling"] == {"test_crops": "crops:4", "crop_size": 64, "resize": None}
