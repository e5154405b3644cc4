"""One split selection (--split-file / --split-index / --official-split) for evaluate and finetune."""

from __future__ import annotations

import pytest

from rankiqa.core.errors import UserError
from rankiqa.data.splits import official_split, random_splits, save_splits
from test_splits import authentic_table


def test_choose_splits(tmp_path):
    from rankiqa.data.splits import choose_splits

    table = authentic_table()
    splits = random_splits(table, n=3, seed=1)
    path = save_splits(tmp_path / "splits.json", table, splits, seed=1)
    assert choose_splits(table) is None
    assert choose_splits(table, path) == splits
    assert choose_splits(table, path, None) == splits
    assert choose_splits(table, path, "1") == [splits[1]]
    assert choose_splits(table, official=True) == [official_split(table)]
    with pytest.raises(UserError, match="--split-index: expected K or all, got 'x'"):
        choose_splits(table, path, "x")
    with pytest.raises(UserError, match="--split-index 5"):
        choose_splits(table, path, 5)
    with pytest.raises(UserError, match="either --split-file or --official-split"):
        choose_splits(table, path, official=True)
