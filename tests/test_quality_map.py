"""Quality maps: exact agreement with the head, input kinds, locality, ``rankiqa map``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import rankiqa
from conftest import natural_image
from rankiqa.cli import main
from rankiqa.core.imageio import read_image
from rankiqa.inference.model.loading import untrained_model
from rankiqa.inference.model.map_grid import expected_grid
from rankiqa.inference.model.regions import quality_map, region_scores
from rankiqa.models.backbones import BACKBONES
from rankiqa.report.overlay import resample_map


def blur_left(image: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    out = image.copy()
    half = image.shape[1] // 2
    out[:, :half] = cv2.GaussianBlur(image[:, :half], (0, 0), sigma)
    return out


def halves(values: np.ndarray) -> tuple[float, float]:
    cols = values.shape[1]
    return float(values[:, : cols // 2].mean()), float(values[:, (cols + 1) // 2 :].mean())


@pytest.mark.parametrize(
    ("backbone", "head"),
    [("shallow", "compact"), ("shallow", "paper")]
    + [(name, "stats") for name in BACKBONES],  # every backbone's taps, new ones included
)
def test_one_region_over_the_whole_image_is_the_head(backbone: str, head: str) -> None:
    # the local pooling must reduce to the head's own pooling when the region is the image
    model = untrained_model(backbone, head=head).eval()
    torch.manual_seed(0)
    x = torch.rand(2, 3, 227, 227)
    with torch.no_grad():
        maps, whole = region_scores(model.net, x, region=227, overlap=1)
        expected = model.net(x)
    assert maps.shape == (2, 1, 1)
    assert torch.allclose(whole, expected, atol=1e-5)
    assert torch.allclose(maps[:, 0, 0], expected, atol=1e-4)


def test_input_kinds_give_the_same_map(tmp_path: Path) -> None:
    model = untrained_model(
        "shallow",
        head="stats",
        input={"resize": 200, "crop_size": 192},
        score={"offset": 50.0, "scale": 10.0},
    )
    array = natural_image(250, 350, seed=2)
    path = tmp_path / "x.png"
    Image.fromarray(array).save(path)
    tensor = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    reference = model.quality_map(path)
    for item in (str(path), Image.open(path), array, tensor):
        np.testing.assert_allclose(model.quality_map(item), reference, atol=1e-4)
    # resized to 200×280, default region 67 px, overlap 4 -> sub-cells of 16.75 px
    assert reference.shape == expected_grid(200, 280, 67, 4) == (9, 14)
    assert reference.dtype == np.float32
    assert (reference >= 0).all() and (reference <= 100).all()
    qmap = quality_map(model, array, region=100, overlap=2)
    assert qmap.values.shape == expected_grid(200, 280, 100, 2) == (3, 5)
    assert qmap.region == pytest.approx(100 * 250 / 200)  # reported in original pixels
    assert qmap.image_size == (250, 350)


def test_map_is_local_by_construction() -> None:
    # an untrained net: changing the left of a wide image leaves regions out of reach untouched
    model = untrained_model("shallow", head="stats", input={"crop_size": 192})
    image = natural_image(192, 1536, seed=4)
    changed = image.copy()
    changed[:, :256] = 255 - changed[:, :256]
    a, b = model.quality_map(image), model.quality_map(changed)
    assert not np.allclose(a[:, :3], b[:, :3])
    np.testing.assert_array_equal(a[:, -10:], b[:, -10:])


@pytest.mark.shared
def test_map_tracks_the_score_and_blur_on_kodak(shared_dir: Path) -> None:
    model = rankiqa.load_model()
    paths = sorted((shared_dir / "data/reference/kodak").glob("*.png"))[:12]
    if len(paths) < 12:
        pytest.skip("kodak photos not found")
    scores, pooled = [], []
    for path in paths:
        image = read_image(path)
        qmap = quality_map(model, image)
        scores.append(model.score(image))
        pooled.append(qmap.pooled)
        left, right = halves(model.quality_map(blur_left(image, 4.0)))
        left0, right0 = halves(qmap.values)
        assert left0 - left > 4 * abs(right0 - right), path.name
    assert np.corrcoef(scores, pooled)[0, 1] > 0.6


def test_resample_map_places_values_at_region_centres() -> None:
    from rankiqa.inference.model.map_grid import QualityMap

    qmap = QualityMap(np.array([[10.0, 20.0, 30.0]], np.float32), 20.0, 40.0, 40.0, (40, 120))
    row = resample_map(qmap, 40, 120)[0]
    assert row[19] == pytest.approx(10.0, abs=0.5)  # centre of the first region: x = 20
    assert row[59] == pytest.approx(20.0, abs=0.5)
    assert row[0] == 10.0 and row[-1] == 30.0
    assert np.all(np.diff(row) >= 0)


# ----------------------------------------------------------------------------- rankiqa map
def test_map_cli_writes_png_npy_and_raw(tmp_path: Path, stats_model_file: Path, capsys) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(natural_image(200, 300, seed=5)).save(path, quality=92)
    out = tmp_path / "out"
    assert main(["map", str(path), "-o", str(out / "m.png"), "-m", str(stats_model_file)]) == 0
    with Image.open(out / "m.png") as png:
        assert png.width > png.height  # photo and colour bar, landscape like the photo
    assert main(["map", str(path), "-o", str(out / "raw.png"), "--raw", "-m", str(stats_model_file)]) == 0
    with Image.open(out / "raw.png") as raw:
        assert raw.size == (300, 200)  # the bare map at the image's size and aspect
    assert main(["map", str(path), "-o", str(out / "v.npy"), "-m", str(stats_model_file)]) == 0
    values = np.load(out / "v.npy")
    model = rankiqa.load_model(stats_model_file)
    np.testing.assert_allclose(values, model.quality_map(path), atol=1e-4)
    assert "score" in capsys.readouterr().out
    assert not list(out.glob(".*tmp"))


def test_map_cli_folder_and_bad_files(tmp_path: Path, stats_model_file: Path, capsys) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(natural_image(200, 260, seed=i)).save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "maps"
    code = main(["map", str(folder), "-o", str(out), "--format", "npy", "-m", str(stats_model_file)])
    err = capsys.readouterr().err
    assert code == 1 and "broken.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["p0.png.npy", "p1.png.npy"]
    # a bad option value: one line, exit 2, nothing written
    code = main(
        ["map", str(folder / "p0.png"), "-o", str(tmp_path / "m.gif"), "-m", str(stats_model_file)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "m.gif" in err
    assert not (tmp_path / "m.gif").exists()


def test_map_pass_gives_the_score_of_a_full_image_protocol(tmp_path: Path) -> None:
    model = untrained_model(
        "shallow",
        head="stats",
        input={"resize": 200, "crop_size": 192, "test_crops": "full"},
        score={"offset": 50.0, "scale": 10.0},
    )
    image = natural_image(230, 300, seed=9)
    assert quality_map(model, image).score == pytest.approx(model.score(image), abs=1e-3)


def test_ranking_only_maps_are_not_clipped_to_0_100() -> None:
    from rankiqa.inference.model.map_grid import score_range

    model = untrained_model("shallow", head="stats", score={"offset": 500.0, "scale": 1000.0})
    model.metadata["score"]["range"] = None  # an arbitrary scale, as ranking-only models have
    assert score_range(model) is None
    values = model.quality_map(natural_image(240, 320, seed=1))
    assert values.max() > 100 or values.min() < 0
