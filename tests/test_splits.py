"""Random splits: reference-disjoint for synthetic datasets, reproducible through split files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankiqa.core.errors import UserError
from rankiqa.data.iqa.records import IQARecord, IQATable
from rankiqa.data.splits import (
    fingerprint,
    load_splits,
    official_split,
    random_splits,
    save_splits,
    select_split,
)


def synthetic_table(n_refs=10, per_ref=7) -> IQATable:
    root = Path("/data")
    records = tuple(
        IQARecord(root / f"r{r}_{k}.bmp", float(k), float(k), f"r{r}", f"{k % 3:02d}")
        for r in range(n_refs)
        for k in range(per_ref)
    )
    return IQATable("toy", root, records, "higher", (0, 9), True)


def authentic_table(n=50) -> IQATable:
    root = Path("/data")
    records = tuple(IQARecord(root / f"{i}.jpg", float(i), float(i)) for i in range(n))
    return IQATable(
        "auth",
        root,
        records,
        "higher",
        (0, 100),
        False,
        official_split={"training": tuple(range(40)), "test": tuple(range(40, 50))},
    )


def test_reference_disjoint():
    table = synthetic_table()
    splits = random_splits(table, n=10, seed=3)
    assert len(splits) == 10
    seen_test_sets = set()
    for s in splits:
        train_refs = {table.references[i] for i in s.train}
        test_refs = {table.references[i] for i in s.test}
        assert not train_refs & test_refs
        assert len(test_refs) == 2 and len(train_refs) == 8  # 80/20 of 10 references
        assert sorted(s.train + s.test) == list(range(len(table)))
        seen_test_sets.add(frozenset(test_refs))
    assert len(seen_test_sets) > 3  # repeats differ
    assert random_splits(table, n=10, seed=3) == splits  # and are reproducible
    assert random_splits(table, n=10, seed=4) != splits


def test_authentic_by_image():
    table = authentic_table(50)
    s = random_splits(table, n=2, seed=0)
    assert len(s[0].test) == 10 and len(s[0].train) == 40
    assert not set(s[0].train) & set(s[0].test)
    assert s[0].test != s[1].test
    with pytest.raises(UserError, match="not every image has a reference"):
        random_splits(table, by_reference=True)


def test_official_split():
    s = official_split(authentic_table())
    assert s.train == tuple(range(40)) and s.test == tuple(range(40, 50))
    with pytest.raises(UserError, match="no official split"):
        official_split(synthetic_table())


def test_file_roundtrip(tmp_path):
    table = synthetic_table()
    splits = random_splits(table, n=3, seed=1)
    path = save_splits(tmp_path / "splits.json", table, splits, seed=1)
    assert load_splits(path, table) == splits
    data = json.loads(path.read_text())
    assert data["fingerprint"] == fingerprint(table) and data["count"] == len(table)
    assert select_split(splits, 2) == splits[2]
    with pytest.raises(UserError, match="--split-index 3"):
        select_split(splits, 3)


def test_file_mismatch_and_corruption(tmp_path):
    table = synthetic_table()
    path = save_splits(tmp_path / "s.json", table, random_splits(table, n=1))
    with pytest.raises(UserError, match="made for 70 images"):
        load_splits(path, synthetic_table(n_refs=9))
    other = synthetic_table()
    other = IQATable("toy", other.root, tuple(reversed(other.records)), "higher", (0, 9), True)
    with pytest.raises(UserError, match="fingerprint mismatch"):
        load_splits(path, other)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="bad.json: not a readable split file"):
        load_splits(tmp_path / "bad.json")
    data = json.loads(path.read_text())
    data["splits"][0]["test"].append(data["splits"][0]["train"][0])
    (tmp_path / "overlap.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="both the train and the test side"):
        load_splits(tmp_path / "overlap.json")
    with pytest.raises(UserError, match="split file not found"):
        load_splits(tmp_path / "missing.json")


def test_carved_validation_is_by_reference_and_never_touches_test():
    from rankiqa.data.splits import carve_validation

    table = synthetic_table(n_refs=10)
    split = random_splits(table, 1, 0.2, seed=0)[0]
    train, val = carve_validation(table, split.train, 0.25, seed=0)
    refs = table.references
    assert sorted(train + val) == sorted(split.train) and not set(val) & set(split.test)
    assert len({refs[i] for i in val}) == 2  # a quarter of the 8 training references
    assert not {refs[i] for i in val} & {refs[i] for i in train}
    assert carve_validation(table, split.train, 0.25, seed=0) == (train, val)  # reproducible
    auth = authentic_table(50)
    train, val = carve_validation(auth, range(40), 0.2, seed=1)
    assert len(val) == 8 and len(train) == 32 and not set(val) & set(train)
    with pytest.raises(UserError, match="--val-fraction"):
        carve_validation(auth, range(40), 1.0)


def test_finetune_uses_the_official_validation_part():
    from rankiqa.data.splits import Split
    from rankiqa.training.finetune import _with_validation
    from rankiqa.training.options import FinetuneConfig

    table = authentic_table(20)
    config = FinetuneConfig(dataset="csv", root="r", init="scratch", out="o")
    official = Split(tuple(range(12)), tuple(range(16, 20)), val=tuple(range(12, 16)))
    assert _with_validation(config, table, official) == official
    carved = _with_validation(config, table, Split(tuple(range(16)), tuple(range(16, 20))))
    assert len(carved.val) == 3 and carved.test == tuple(range(16, 20))
    leaky = Split(tuple(range(12)), tuple(range(14, 20)), val=tuple(range(10, 16)))
    with pytest.raises(UserError, match="shares"):
        _with_validation(config, table, leaky)


def test_lockbox_protocol_folds_cover_the_rest_and_never_see_the_lockbox(tmp_path):
    from rankiqa.data.splits import lockbox_splits

    table = authentic_table(50)
    splits = lockbox_splits(table, lockbox=12, folds=4, seed=3)
    *folds, box = splits
    assert box.lockbox and not any(s.lockbox for s in folds)
    assert len(box.test) == 12 and sorted(box.train + box.test) == list(range(50))
    boxed = set(box.test)
    tested = [i for s in folds for i in s.test]
    assert sorted(tested) == sorted(box.train)  # every non-lockbox image tested exactly once
    for s in folds:
        assert not (set(s.train) | set(s.test)) & boxed
        assert not set(s.train) & set(s.test)
    # the same seed gives the same lockbox whatever the number of folds; another seed another
    assert set(lockbox_splits(table, 12, 5, seed=3)[-1].test) == boxed
    assert set(lockbox_splits(table, 12, 4, seed=4)[-1].test) != boxed
    path = save_splits(tmp_path / "s.json", table, splits)
    loaded = load_splits(path, table)
    assert [s.lockbox for s in loaded] == [False] * 4 + [True]
    assert loaded[-1].test == box.test


def test_folds_without_a_lockbox_test_every_image_once(tmp_path):
    from rankiqa.data.splits import make_splits

    table = authentic_table(23)
    splits, info = make_splits(table, folds=4, seed=1)
    assert len(splits) == 4 and not any(s.lockbox for s in splits)
    assert sorted(i for s in splits for i in s.test) == list(range(23))
    for s in splits:
        assert sorted(s.train + s.test) == list(range(23))
    assert info == {"seed": 1, "lockbox": 0, "folds": 4}
    random, _ = make_splits(table, n=3, seed=1)  # no --folds: random splits as before
    assert len(random) == 3


def test_lockbox_synthetic_is_by_reference():
    from rankiqa.data.splits import lockbox_splits

    table = synthetic_table(10, 7)
    *folds, box = lockbox_splits(table, lockbox=3, folds=3)
    refs = lambda idx: {table.references[i] for i in idx}  # noqa: E731
    assert len(refs(box.test)) == 3 and not refs(box.test) & refs(box.train)
    for s in folds:
        assert not refs(s.train) & refs(s.test)


@pytest.mark.parametrize("lockbox,folds", [(-1, 5), (48, 5), (10, 1), (0, 51)])
def test_lockbox_bad_sizes_are_user_errors(lockbox, folds):
    from rankiqa.data.splits import lockbox_splits

    with pytest.raises(UserError, match="--lockbox|--folds"):
        lockbox_splits(authentic_table(50), lockbox=lockbox, folds=folds)
