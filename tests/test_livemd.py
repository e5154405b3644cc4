"""LIVE Multiply Distorted loader on a miniature copy of the official release (SciPy .mat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from rankiqa.cli import main
from rankiqa.core.errors import UserError
from rankiqa.data.iqa import DATASETS, load_iqa_dataset
from rankiqa.data.iqa.livemd import livemd_distortion
from rankiqa.data.splits import random_splits
from test_iqa_datasets import touch_image

REFS = ["bikes.bmp", "house.bmp", "lady_1.bmp"]  # an underscore in a reference name too
PART1 = [
    ("bikes_blur1.bmp", 1, 30.5),
    ("bikes_jpeg2.bmp", 1, 41.0),
    ("house_blur2_jpeg1.bmp", 2, 55.25),
    ("lady_1_blur3_jpeg3.bmp", 3, 80.0),
]
PART2 = [
    ("bikes_noise3.bmp", 1, 62.0),
    ("house_blur1_noise2.bmp", 2, 47.5),
    ("lady_1_blur1.bmp", 3, 20.0),
]


def cell(names: list[str]) -> np.ndarray:
    out = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        out[i, 0] = name
    return out


def write_part(folder: Path, images: str, entries, refs=REFS, touch=True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    savemat(
        folder / "Imagelists.mat",
        {
            "distimgs": cell([n for n, _, _ in entries]),
            "refimgs": cell(refs),
            "ref4dist": np.array([[float(r)] for _, r, _ in entries]),
        },
    )
    savemat(folder / "Scores.mat", {"DMOSscores": np.array([[s for _, _, s in entries]])})
    if touch:
        for name in [n for n, _, _ in entries] + list(refs):
            touch_image(folder / images / name, size=(8, 6))


def make_livemd(root: Path, part1="Part 1", part2="Part 2", part1_entries=PART1) -> Path:
    write_part(root / part1, "blurjpeg", part1_entries)
    write_part(root / part2, "blurnoise", PART2)
    return root


def test_official_layout(tmp_path):
    make_livemd(tmp_path / "To_Release")
    table = load_iqa_dataset("livemd", tmp_path)  # the folder holding To_Release
    assert len(table) == len(PART1) + len(PART2)
    rel = [r.path.relative_to(tmp_path).as_posix() for r in table.records]
    assert rel[0] == "To_Release/Part 1/blurjpeg/bikes_blur1.bmp"
    assert rel[-1] == "To_Release/Part 2/blurnoise/lady_1_blur1.bmp"
    assert table.scores == [s for _, _, s in PART1 + PART2]
    assert table.references == ["bikes", "bikes", "house", "lady_1", "bikes", "house", "lady_1"]
    assert table.distortions == [
        "blur1",
        "jpeg2",
        "blur2_jpeg1",
        "blur3_jpeg3",
        "noise3",
        "blur1_noise2",
        "blur1",
    ]
    assert table.direction == "lower" and table.synthetic
    assert table.score_range == (0.0, 100.0)
    assert table.records[2].target == pytest.approx(100 - 55.25)
    assert table.distortion_names["blur2_jpeg1"] == (
        "Gaussian blur level 2, then JPEG compression level 1"
    )
    # the release folder itself as the root gives the same records
    same = load_iqa_dataset("livemd", tmp_path / "To_Release")
    assert same.scores == table.scores and same.references == table.references


@pytest.mark.parametrize(("part1", "part2"), [("Part_1", "Part_2"), ("Part1", "part2")])
def test_part_folder_spellings(tmp_path, part1, part2):
    make_livemd(tmp_path, part1, part2)
    table = load_iqa_dataset("livemd", tmp_path)
    assert len(table) == 7
    assert table.records[0].path.parent.parent.name == part1
    assert table.records[-1].path.parent.parent.name == part2


def test_missing_part(tmp_path):
    write_part(tmp_path / "Part 1", "blurjpeg", PART1)
    with pytest.raises(UserError, match="folder 'Part 2' not found"):
        load_iqa_dataset("livemd", tmp_path)


def test_references_left_out_unless_asked(tmp_path):
    make_livemd(tmp_path)
    table = load_iqa_dataset("livemd", tmp_path, include_references=True)
    assert len(table) == 7 + 2 * len(REFS)
    pristine = [r for r in table.records if r.distortion == "pristine"]
    assert [r.reference for r in pristine] == ["bikes", "house", "lady_1"] * 2
    assert all(r.score == 0.0 and r.target == 100.0 and r.path.is_file() for r in pristine)
    assert pristine[0].path.relative_to(tmp_path).as_posix() == "Part 1/blurjpeg/bikes.bmp"


def test_reference_index_disagrees_with_name(tmp_path):
    bad = list(PART1)
    bad[2] = ("house_blur2_jpeg1.bmp", 1, 55.25)  # ref4dist points to bikes
    make_livemd(tmp_path, part1_entries=bad)
    with pytest.raises(
        UserError,
        match=r"Part 1/Imagelists.mat entry 3: image 'house_blur2_jpeg1.bmp' is named after "
        r"reference 'house' but ref4dist points to 'bikes.bmp'",
    ):
        load_iqa_dataset("livemd", tmp_path)


def test_missing_image_names_the_entry(tmp_path):
    make_livemd(tmp_path)
    (tmp_path / "Part 2" / "blurnoise" / "house_blur1_noise2.bmp").unlink()
    with pytest.raises(
        UserError,
        match=r"Part 2/Imagelists.mat entry 2: image 'Part 2/blurnoise/house_blur1_noise2.bmp' "
        "not found",
    ):
        load_iqa_dataset("livemd", tmp_path)
    assert len(load_iqa_dataset("livemd", tmp_path, verify=False)) == 7  # scores only


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            ("bikes_noise1.bmp", 1, 10.0),
            "entry 2: image 'bikes_noise1.bmp' has a distortion that Part 1",
        ),
        (("bikes_blur1_gamma.bmp", 1, 10.0), "entry 2: image name 'bikes_blur1_gamma.bmp' is not"),
        (("bikes_blur1.bmp", 4, 10.0), "entry 2: ref4dist 4.0 is not an index into the 3 refimgs"),
        (("bikes_blur1.bmp", 1, 10.0), "entry 2: image 'bikes_blur1.bmp' is also entry 1"),
        (("../bikes_blur1.bmp", 1, 10.0), "entry 2: image name '../bikes_blur1.bmp' escapes"),
        (("bikes_jpeg1.bmp", 1, float("nan")), "Scores.mat entry 2: DMOS nan is not finite"),
    ],
)
def test_malformed_entries(tmp_path, entry, message):
    entries = [PART1[0], entry]
    make_livemd(tmp_path, part1_entries=entries)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_iqa_dataset("livemd", tmp_path, verify=False)


def test_score_count_mismatch(tmp_path):
    make_livemd(tmp_path)
    savemat(tmp_path / "Part 2" / "Scores.mat", {"DMOSscores": np.ones((1, 2))})
    with pytest.raises(UserError, match="Part 2/Scores.mat: DMOSscores has 2 entries for 3"):
        load_iqa_dataset("livemd", tmp_path)
    (tmp_path / "Part 2" / "Scores.mat").unlink()
    with pytest.raises(UserError, match="Part 2/Scores.mat: MATLAB file not found"):
        load_iqa_dataset("livemd", tmp_path)


def test_name_parsing():
    assert livemd_distortion("Lady_1_BLUR3_noise2.bmp") == (
        "Lady_1",
        "blur3_noise2",
        {"blur": 3, "noise": 2},
    )
    assert livemd_distortion("bikes_jpeg1.bmp") == ("bikes", "jpeg1", {"jpeg": 1})
    assert livemd_distortion("bikes.bmp") is None


def test_splits_by_reference_and_cli(tmp_path, capsys):
    make_livemd(tmp_path)
    table = load_iqa_dataset("livemd", tmp_path)
    for split in random_splits(table, n=5, test_fraction=0.34, seed=1):
        train = {table.records[i].reference for i in split.train}
        test = {table.records[i].reference for i in split.test}
        assert train and test and not train & test
        assert len(split.train) + len(split.test) == len(table)
    assert "livemd" in DATASETS
    out = tmp_path / "splits.json"
    code = main(
        ["datasets", "--dataset", "livemd", "--root", str(tmp_path), "--make-splits", str(out)]
    )
    assert code == 0 and out.is_file()
    printed = capsys.readouterr().out
    assert "images: 7" in printed and "references: 3" in printed


def test_full_size_release_scores_only(tmp_path):
    """450 entries as in the release (15 references × 15 versions per part), no images."""
    refs = [f"ref{k:02d}.bmp" for k in range(15)]
    rng = np.random.default_rng(0)
    expected = []
    for part, (folder, second) in enumerate((("blurjpeg", "jpeg"), ("blurnoise", "noise")), 1):
        versions = [f"blur{b}" for b in (1, 2, 3)] + [f"{second}{k}" for k in (1, 2, 3)]
        versions += [f"blur{b}_{second}{k}" for b in (1, 2, 3) for k in (1, 2, 3)]
        entries = [
            (f"{ref[:-4]}_{v}.bmp", r + 1, float(rng.uniform(0, 100)))
            for r, ref in enumerate(refs)
            for v in versions
        ]
        rng.shuffle(entries)  # the loader follows the lists' order, whatever it is
        write_part(tmp_path / "To_Release" / f"Part {part}", folder, entries, refs, touch=False)
        expected += [(s, n.split("_")[0]) for n, _, s in entries]
    table = load_iqa_dataset("livemd", tmp_path, verify=False)
    assert len(table) == 450
    assert [(r.score, r.reference) for r in table.records] == expected
    assert len(set(table.references)) == 15 and len(set(table.distortions)) == 27
    assert sum(d.startswith("blur") and "_" in d for d in table.distortions) == 2 * 135
