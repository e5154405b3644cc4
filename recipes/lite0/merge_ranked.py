"""Merge ranked sets (outputs of ``rankiqa distort``) into one folder that ``rankiqa finetune
--rank-data`` reads: symbolic links to the sets and one manifest whose references are prefixed
with their set's folder name (so names cannot clash).

    python recipes/lite0/merge_ranked.py WORK/ranked/cbsd68 WORK/ranked/mcmaster \\
        --out WORK/ranked/cbsd68+mcmaster
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sets", nargs="+", help="ranked-set folders (same preset)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for folder in map(Path, args.sets):
        link = out / folder.name
        if not link.exists():
            os.symlink(os.path.relpath(folder.resolve(), out.resolve()), link)
        with open(folder / "manifest.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                rows.append([f"{folder.name}/{row['path']}", f"{folder.name}/{row['reference']}",
                             row["distortion"], row["level"]])
    tmp = out / "manifest.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "reference", "distortion", "level"])
        writer.writerows(rows)
    shutil.copy(Path(args.sets[0]) / "preset.json", out / "preset.json")
    tmp.replace(out / "manifest.csv")
    print(f"{len(rows)} images of {len(args.sets)} sets -> {out}")


if __name__ == "__main__":
    main()
