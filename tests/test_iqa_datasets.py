"""IQA dataset loaders on miniature copies of each official format (and the real score files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from rankiqa.core.errors import UserError
from rankiqa.core.preprocess import parse_pooling
from rankiqa.data.iqa import DATASETS, load_iqa_dataset
from rankiqa.data.iqa.dataset import EvalViews, IQAImages, TrainBatches
from rankiqa.data.iqa.transforms import eval_views, prepare_uint8


def touch_image(path: Path, size=(40, 30), value=128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, value, value)).save(
        path, format="PNG" if path.suffix.lower() == ".png" else "BMP"
    )


# ----------------------------------------------------------------------------- TID2013 / 2008
def make_tid(root: Path, names_scores, crlf=True) -> None:
    lines = [f"{s} {n}" for s, n in names_scores]
    (root / "mos_with_names.txt").write_bytes(
        ("\r\n" if crlf else "\n").join(lines).encode() + b"\r\n"
    )
    for _, n in names_scores:
        touch_image(root / "distorted_images" / n)


def test_tid2013_mixed_case_crlf(tmp_path):
    make_tid(tmp_path, [(5.5, "I01_01_1.bmp"), (4.0, "i01_11_1.BMP"), (0.9, "i02_24_5.bmp")])
    # the file on disk differs in case from the listed name: resolved case-insensitively
    (tmp_path / "distorted_images" / "i01_11_1.BMP").rename(
        tmp_path / "distorted_images" / "I01_11_1.bmp"
    )
    table = load_iqa_dataset("tid2013", tmp_path)
    assert [r.path.name for r in table.records] == ["I01_01_1.bmp", "I01_11_1.bmp", "i02_24_5.bmp"]
    assert all(r.path.is_file() for r in table.records)
    assert table.references == ["i01", "i01", "i02"]
    assert table.distortions == ["01", "11", "24"]
    assert table.scores == [5.5, 4.0, 0.9]
    assert table.targets == pytest.approx([100 * 5.5 / 9, 100 * 4 / 9, 10.0])
    assert table.direction == "higher" and table.synthetic


def test_tid2013_mos_txt_official_order(tmp_path):
    scores = np.linspace(1, 8, 3000)
    (tmp_path / "mos.txt").write_text("\r\n".join(f"{s:.5f}" for s in scores))
    table = load_iqa_dataset("tid2013", tmp_path, verify=False)
    assert len(table) == 3000
    assert table.records[0].path.name == "i01_01_1.bmp"
    assert table.records[5].path.name == "i01_02_1.bmp"
    assert table.records[-1].path.name == "i25_24_5.bmp"
    assert table.records[-1].distortion == "24" and table.records[-1].reference == "i25"
    assert table.scores[7] == pytest.approx(scores[7], abs=1e-5)


def test_tid2013_mos_txt_wrong_count(tmp_path):
    (tmp_path / "mos.txt").write_text("1.0\n2.0\n")
    with pytest.raises(UserError, match="mos.txt: 2 scores"):
        load_iqa_dataset("tid2013", tmp_path, verify=False)


def test_tid2008_types(tmp_path):
    make_tid(tmp_path, [(3.0, "i03_17_4.bmp"), (2.0, "i04_01_1.bmp")], crlf=False)
    assert load_iqa_dataset("tid2008", tmp_path).distortions == ["17", "01"]
    make_tid(tmp_path, [(3.0, "i03_18_4.bmp")])
    with pytest.raises(UserError, match=r"mos_with_names.txt:1: distortion type 18"):
        load_iqa_dataset("tid2008", tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "5.1 i01_01_1.bmp\nnot-a-number i01_01_2.bmp\n",
            r"mos_with_names.txt:2: score 'not-a-number'",
        ),
        ("5.1 i01_01_1.bmp\n\n4.2\n", r"mos_with_names.txt:3: expected 'MOS NAME'"),
        ("5.1 ../../etc/passwd\n", r"mos_with_names.txt:1: .*escapes the dataset root"),
        ("5.1 /etc/passwd\n", r"mos_with_names.txt:1: .*escapes the dataset root"),
        (
            "5.1 i01_01_9.bmp\n",
            r"mos_with_names.txt:1: image 'distorted_images/i01_01_9.bmp' not found",
        ),
    ],
)
def test_tid_malformed(tmp_path, content, message):
    touch_image(tmp_path / "distorted_images" / "i01_01_1.bmp")
    (tmp_path / "mos_with_names.txt").write_text(content)
    with pytest.raises(UserError, match=message):
        load_iqa_dataset("tid2013", tmp_path)


def test_missing_score_file(tmp_path):
    with pytest.raises(UserError, match="mos_with_names.txt: score file not found"):
        load_iqa_dataset("tid2013", tmp_path)
    with pytest.raises(UserError, match="dataset root not found"):
        load_iqa_dataset("tid2013", tmp_path / "nope")
    with pytest.raises(UserError, match="unknown dataset"):
        load_iqa_dataset("nope", tmp_path)


# ----------------------------------------------------------------------------- LIVE
def make_live(root: Path, orgs_at=(0,)) -> np.ndarray:
    total = 227 + 233 + 174 + 174 + 174
    dmos = np.linspace(5, 90, total)
    orgs = np.zeros(total)
    for i in orgs_at:
        orgs[i] = 1
        dmos[i] = 0.0
    refs = np.empty((1, total), dtype=object)
    for i in range(total):
        refs[0, i] = np.array([f"ref{i % 29:02d}.bmp"])
    savemat(
        root / "dmos_realigned.mat",
        {"dmos_new": dmos[None], "orgs": orgs[None], "dmos_std": dmos[None] * 0},
    )
    savemat(root / "refnames_all.mat", {"refnames_all": refs})
    return dmos


def test_live_release2(tmp_path):
    dmos = make_live(tmp_path, orgs_at=(0, 227))
    table = load_iqa_dataset("live", tmp_path, verify=False)
    assert len(table) == 982 - 2
    rel = [r.path.relative_to(tmp_path).as_posix() for r in table.records]
    assert rel[0] == "jp2k/img2.bmp"  # img1 is a reference copy
    assert rel[226] == "jpeg/img2.bmp"  # jpeg/img1 (entry 228) is a reference copy
    assert rel[-1] == "fastfading/img174.bmp"
    assert rel.index("wn/img1.bmp") == 227 + 233 - 2
    assert table.records[0].score == pytest.approx(dmos[1])
    assert table.records[0].target == pytest.approx(100 - dmos[1])
    assert table.records[0].reference == "ref01" and table.records[0].distortion == "jp2k"
    assert table.direction == "lower"
    assert len(load_iqa_dataset("live", tmp_path, verify=False, include_references=True)) == 982
    with pytest.raises(UserError, match="jp2k/img2.bmp' not found"):
        load_iqa_dataset("live", tmp_path)


def test_live_wrong_length(tmp_path):
    make_live(tmp_path)
    savemat(
        tmp_path / "dmos_realigned.mat", {"dmos_new": np.ones((1, 10)), "orgs": np.zeros((1, 10))}
    )
    with pytest.raises(UserError, match="dmos_realigned.mat: DMOS has 10 entries"):
        load_iqa_dataset("live", tmp_path, verify=False)


# ----------------------------------------------------------------------------- CSIQ
CSIQ_ROWS = [
    ("1600", 1, "noise", 1, 0.061, 0.062),
    ("1600", 3, "jpeg 2000", 2, 0.05, 0.3),
    (1600, 6, "contrast", 4, 0.1, 0.5),  # numeric image names as in the sheet
    ("shroom", 5, "blur", 5, 0.1, 0.9),
]
CSIQ_FILES = [
    "dst_imgs/awgn/1600.AWGN.1.png",
    "dst_imgs/jpeg2000/1600.jpeg2000.2.png",
    "dst_imgs/contrast/1600.contrast.4.png",
    "dst_imgs/blur/shroom.BLUR.5.png",
]


def test_csiq_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "notes"
    sheet = book.create_sheet("all_by_image")
    sheet.append(["CSIQ DMOS"])
    sheet.append([])
    sheet.append(["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"])
    for row in CSIQ_ROWS:
        sheet.append(list(row))
    book.save(tmp_path / "csiq.DMOS.xlsx")
    for name in CSIQ_FILES:
        touch_image(tmp_path / name)
    table = load_iqa_dataset("csiq", tmp_path)
    assert [r.path.relative_to(tmp_path).as_posix() for r in table.records] == CSIQ_FILES
    assert table.references == ["1600", "1600", "1600", "shroom"]
    assert table.distortions == ["awgn", "jpeg2000", "contrast", "blur"]
    assert table.targets == pytest.approx([93.8, 70.0, 50.0, 10.0])


def test_csiq_txt_export(tmp_path):
    lines = ["image\tdst_idx\tdst_type\tdst_lev\tdmos_std\tdmos"]
    lines += ["\t".join(str(v) for v in row) for row in CSIQ_ROWS]
    (tmp_path / "csiq_dmos.txt").write_text("\r\n".join(lines))
    for name in CSIQ_FILES:
        touch_image(tmp_path / name)
    table = load_iqa_dataset("csiq", tmp_path)
    assert table.scores == [0.062, 0.3, 0.5, 0.9]
    (tmp_path / "csiq_dmos.txt").write_text(lines[1] + "\n1600 1 rain 1 0.1 0.2\n")
    with pytest.raises(UserError, match=r"csiq_dmos.txt:2: unknown CSIQ distortion type 'rain'"):
        load_iqa_dataset("csiq", tmp_path)


# ----------------------------------------------------------------------------- KADID-10k
def test_kadid10k(tmp_path):
    (tmp_path / "dmos.csv").write_text(
        "dist_img,ref_img,dmos,var\r\nI01_01_01.png,I01.png,4.57,0.496\r\nI81_25_05.png,I81.png,1.0,0.1\r\n"
    )
    touch_image(tmp_path / "images" / "I01_01_01.png")
    touch_image(tmp_path / "images" / "I81_25_05.png")
    table = load_iqa_dataset("kadid10k", tmp_path)
    assert table.references == ["I01", "I81"] and table.distortions == ["01", "25"]
    assert table.targets == pytest.approx([100 * 3.57 / 4, 0.0])
    (tmp_path / "dmos.csv").write_text("dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,4.5\n")
    with pytest.raises(UserError, match=r"dmos.csv:2: expected 4 fields"):
        load_iqa_dataset("kadid10k", tmp_path)


# ----------------------------------------------------------------------------- KonIQ-10k
def test_koniq10k_scores_and_official_split(tmp_path):
    header = '"image_name","c1","c2","c3","c4","c5","c_total","MOS","SD","MOS_zscore"\n'
    rows = [
        '"a.jpg",0,0,0.2,0.7,0.1,100,3.9,0.5,70.1\n',
        '"b.jpg",0,0.5,0.5,0,0,100,2.5,0.5,40.0\n',
        '"c.jpg",0,0,0,0,1,100,5.0,0.1,99.0\n',
    ]
    (tmp_path / "koniq10k_scores_and_distributions.csv").write_text(header + "".join(rows))
    (tmp_path / "koniq10k_distributions_sets.csv").write_text(
        "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set\n"
        "c.jpg,0,0,0,0,1,100,99.0,0.1,test\nb.jpg,0,0,0,0,1,100,40,0.1,training\na.jpg,0,0,0,0,1,100,70,0.1,training\n"
    )
    for n in "abc":
        touch_image(tmp_path / "1024x768" / f"{n}.jpg")
    table = load_iqa_dataset("koniq10k", tmp_path)
    assert table.scores == [3.9, 2.5, 5.0]
    assert table.targets == pytest.approx([72.5, 37.5, 100.0])
    assert table.official_split == {"test": (2,), "training": (1, 0)}
    assert not table.synthetic and table.references == [None] * 3


def test_koniq10k_sets_only_1_100(tmp_path):
    (tmp_path / "koniq10k_distributions_sets.csv").write_text(
        "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set\nx.jpg,0,0,0,0,1,100,50.5,0.1,validation\n"
    )
    table = load_iqa_dataset("koniq10k", tmp_path, verify=False)
    assert table.records[0].target == pytest.approx(50.0)
    assert table.official_split == {"validation": (0,)}


# ----------------------------------------------------------------------------- LIVE Challenge
def make_clive(root: Path, n: int = 10) -> list[float]:
    names = [f"t{i + 1}.bmp" for i in range(7)] + [f"{100 + i}.JPG" for i in range(n - 7)]
    cell = np.empty((n, 1), dtype=object)
    for i, name in enumerate(names):
        cell[i, 0] = np.array([name])
    mos = list(np.linspace(10, 90, n))
    (root / "Data").mkdir(parents=True)
    savemat(root / "Data" / "AllImages_release.mat", {"AllImages_release": cell})
    savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.array([mos])})
    for i, name in enumerate(names):
        folder = root / "Images" / ("trainingImages" if i < 7 else "")
        touch_image(folder / name, size=(50 + i, 40), value=20 * i)
    return mos


def test_clive(tmp_path):
    mos = make_clive(tmp_path, 10)
    table = load_iqa_dataset("clive", tmp_path)
    rel = [r.path.relative_to(tmp_path).as_posix() for r in table.records]
    assert rel[0] == "Images/trainingImages/t1.bmp" and rel[6] == "Images/trainingImages/t7.bmp"
    assert rel[7] == "Images/100.JPG"
    assert table.targets == pytest.approx(mos) and table.direction == "higher"
    assert not table.synthetic


def test_clive_missing_mat(tmp_path):
    with pytest.raises(UserError, match="AllImages_release.mat: MATLAB file not found"):
        load_iqa_dataset("clive", tmp_path)


# ----------------------------------------------------------------------------- generic CSV
def test_generic_csv(tmp_path):
    for n in ("a", "b", "c"):
        touch_image(tmp_path / "img" / f"{n}.png")
    csv = tmp_path / "scores.csv"
    csv.write_text(
        "path,score,reference,distortion\nimg/a.png,1.0,r1,blur\nimg/b.png,3.0,r1,noise\nimg/c.png,5,r2,blur\n"
    )
    table = load_iqa_dataset("csv", tmp_path)
    assert table.targets == pytest.approx([0, 50, 100]) and table.synthetic
    table = load_iqa_dataset("csv", csv, direction="lower", score_range=(0, 10))
    assert table.targets == pytest.approx([90, 70, 50]) and table.direction == "lower"
    csv.write_text("path,score\nimg/a.png,1\n../outside.png,2\n")
    with pytest.raises(UserError, match=r"scores.csv:3: image name '../outside.png' escapes"):
        load_iqa_dataset("csv", csv)
    csv.write_text("name,score\nimg/a.png,1\n")
    with pytest.raises(UserError, match="scores.csv: missing column.*path"):
        load_iqa_dataset("csv", csv)


def test_registry_lists_layouts():
    assert {"tid2013", "tid2008", "live", "csiq", "kadid10k", "koniq10k", "clive", "csv"} <= set(
        DATASETS
    )
    assert all(info.layout and info.scores for info in DATASETS.values())


# ----------------------------------------------------------------------------- input protocol
def test_input_protocol():
    image = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)
    resized = prepare_uint8(image, 40, crop_size=32)
    assert resized.dtype == torch.uint8 and tuple(resized.shape) == (3, 40, 60)
    assert tuple(prepare_uint8(image, 20, crop_size=32).shape) == (
        3,
        32,
        48,
    )  # upscaled to the crop
    assert tuple(prepare_uint8(image, None, crop_size=32).shape) == (3, 60, 90)
    assert parse_pooling("30") == "crops:30" and parse_pooling("grid") == "grid"
    with pytest.raises(UserError, match="--crops"):
        parse_pooling("many")
    assert tuple(eval_views(resized, "grid:2", 32).shape) == (4, 3, 32, 32)
    center = eval_views(resized, "center", 32)[0]
    assert torch.allclose(center, resized[:, 4:36, 14:46].float() / 255)
    a, b = eval_views(resized, "crops:5", 32, seed=3), eval_views(resized, "crops:5", 32, seed=3)
    assert a.shape == (5, 3, 32, 32) and torch.equal(a, b)
    assert eval_views(resized, "full", 32).shape == (1, 3, 40, 60)


def test_train_batches_deterministic(tmp_path):
    make_clive(tmp_path, 10)
    images = IQAImages(load_iqa_dataset("clive", tmp_path), resize=36, crop_size=32, cache=True)
    images.preload(workers=2)
    batches = TrainBatches(images, batch_size=4, crop_size=32, seed=5)
    x0, y0 = batches[0]
    assert x0.shape == (4, 3, 32, 32) and x0.dtype == torch.float32 and float(x0.max()) <= 1.0
    assert torch.equal(batches[0][0], x0) and not torch.equal(batches[1][0], x0)
    # each epoch visits every image exactly once (10 images, batch 5 → 2 steps per epoch)
    b5 = TrainBatches(images, batch_size=5, crop_size=32, seed=5)
    assert sorted(b5.indices(0) + b5.indices(1)) == list(range(10))
    targets = sorted(float(t) for s in (0, 1) for t in b5[s][1])
    assert targets == pytest.approx(sorted(images.table.targets))
    views, target = EvalViews(images, "grid", 32)[8]
    assert views.shape[1:] == (3, 32, 32) and target == images.table.targets[8]


def test_train_batches_flip_mirrors_some_crops(tmp_path):
    from PIL import Image

    from conftest import natural_image

    make_clive(tmp_path, 8)
    table = load_iqa_dataset("clive", tmp_path)
    for i, record in enumerate(table.records):  # square, textured: the crop is the whole image
        Image.fromarray(natural_image(40, 40, seed=i)).save(record.path, format="BMP")
    images = IQAImages(table, resize=32, crop_size=32, cache=True)
    images.preload(workers=1)
    # crop = whole image, so each crop is either the image or its mirror
    flipped = TrainBatches(images, batch_size=8, crop_size=32, seed=1)
    plain = TrainBatches(images, batch_size=8, crop_size=32, seed=1, flip=False)
    x, _ = flipped[0]
    y, _ = plain[0]
    mirrored = [
        not torch.equal(a, b) and torch.equal(a, b.flip(-1)) for a, b in zip(x, y, strict=True)
    ]
    assert any(mirrored) and not all(mirrored)


# ----------------------------------------------------------------------------- real score files
def test_real_tid2013_scores(shared_dir):
    table = load_iqa_dataset("tid2013", shared_dir / "data" / "tid2013-scores", verify=False)
    assert len(table) == 3000 and len(set(table.references)) == 25
    assert sorted(set(table.distortions)) == [f"{i:02d}" for i in range(1, 25)]
    assert min(table.scores) >= 0 and max(table.scores) <= 9
    assert table.records[0].path.name == "I01_01_1.bmp"
    # mos.txt (same order) gives the same scores
    mos = [
        float(x) for x in (shared_dir / "data" / "tid2013-scores" / "mos.txt").read_text().split()
    ]
    assert table.scores == pytest.approx(mos)


def test_real_koniq_sets(shared_dir):
    table = load_iqa_dataset("koniq10k", shared_dir / "data" / "koniq10k-scores", verify=False)
    assert len(table) == 10073
    assert {k: len(v) for k, v in table.official_split.items()} == {
        "training": 7058,
        "validation": 1000,
        "test": 2015,
    }
    assert min(table.targets) >= 0 and max(table.targets) <= 100


def test_real_clive(shared_dir):
    table = load_iqa_dataset("clive", shared_dir / "data" / "clive-dev" / "ChallengeDB_release")
    assert len(table) == 704 and all(r.path.is_file() for r in table.records)
    assert table.records[0].path.parent.name == "trainingImages"
    assert 0 < min(table.targets) < max(table.targets) < 100
