"""``rankiqa compare`` and :mod:`rankiqa.evaluation.compare`: paired comparisons of two runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rankiqa.cli import main
from rankiqa.core.errors import UserError
from rankiqa.evaluation.compare import compare_predictions, read_predictions
from rankiqa.evaluation.metrics import srocc


def write_predictions(path, mos, pred, lockbox=None) -> None:
    lines = ["part,lockbox,index,image,target,prediction"]
    for i, (k, t) in enumerate(mos.items()):
        box = int(lockbox is not None and k in lockbox)
        lines.append(f"{'split3' if box else 'split0'},{box},{i},{k},{t},{pred[k]}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def runs():
    rng = np.random.default_rng(1)
    mos = {f"img{k:03d}.jpg": float(v) for k, v in enumerate(rng.uniform(0, 100, size=120))}
    noisy = {k: v + 25 * rng.normal() for k, v in mos.items()}
    close = {k: v + 8 * rng.normal() for k, v in mos.items()}
    return mos, noisy, close


def test_paired_interval_finds_the_better_model_and_holds_the_point(runs) -> None:
    mos, noisy, close = runs
    result = compare_predictions(noisy, close, mos, resamples=400)
    diff = result["difference"]
    assert diff["srocc"] == pytest.approx(srocc(list(close.values()), list(mos.values())) -
                                          srocc(list(noisy.values()), list(mos.values())))
    for key in ("srocc", "plcc"):
        low, high = diff[f"{key}_ci95"]
        assert 0 < low <= diff[key] <= high
        # pairing makes the difference's interval narrower than either model's own
        assert high - low < sum(result[m][f"{key}_ci95"][1] - result[m][f"{key}_ci95"][0]
                                for m in ("baseline", "candidate"))
    same = compare_predictions(close, close, mos, resamples=100)["difference"]
    assert same["srocc"] == 0 and same["srocc_ci95"] == [0, 0]


def test_the_lockbox_is_read_only_when_asked(runs, tmp_path) -> None:
    mos, noisy, _ = runs
    box = set(list(mos)[:20])
    write_predictions(tmp_path / "a.csv", mos, noisy, lockbox=box)
    assert set(read_predictions(tmp_path / "a.csv")) == set(mos) - box
    assert set(read_predictions(tmp_path / "a.csv", lockbox=True)) == box


def test_cli_prints_and_writes_the_comparison(runs, tmp_path, capsys) -> None:
    mos, noisy, close = runs
    (tmp_path / "run").mkdir()
    write_predictions(tmp_path / "run" / "predictions.csv", mos, noisy)  # a run folder
    write_predictions(tmp_path / "b.csv", mos, close)
    out = tmp_path / "cmp.json"
    assert main(["compare", str(tmp_path / "run"), str(tmp_path / "b.csv"), "--resamples", "200",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("120 images (outside the lockbox)") and "difference" in text
    saved = json.loads(out.read_text())
    assert saved["n"] == 120 and saved["difference"]["srocc_ci95"][0] > 0


@pytest.mark.parametrize("case, message", [
    ("missing", "no such predictions file"),
    ("columns", "no column prediction"),
    ("number", "must be numbers"),
    ("twice", "predicted twice"),
    ("other images", "predict different images"),
    ("other targets", "different targets"),
])
def test_bad_inputs_are_one_line_errors(runs, tmp_path, capsys, case, message) -> None:
    mos, noisy, close = runs
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_predictions(a, mos, noisy)
    write_predictions(b, mos, close)
    if case == "missing":
        b = tmp_path / "nothing"
    elif case == "columns":
        b.write_text("image,target\nx.jpg,1\n")
    elif case == "number":
        b.write_text(b.read_text().replace(f",{close['img005.jpg']}\n", ",n/a\n"))
    elif case == "twice":
        b.write_text(b.read_text() + b.read_text().splitlines()[1] + "\n")
    elif case == "other images":
        write_predictions(b, dict(list(mos.items())[:100]), close)
    elif case == "other targets":
        write_predictions(b, {k: v + 1 for k, v in mos.items()}, close)
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "c.json").exists()


def test_a_comparison_needs_rows(tmp_path) -> None:
    (tmp_path / "a.csv").write_text("image,target,prediction\n")
    with pytest.raises(UserError, match="needs at least 3"):
        read_predictions(tmp_path / "a.csv")
