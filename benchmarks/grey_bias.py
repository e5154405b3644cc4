"""How much a model's score moves when a colour photo is converted to grey (the model card's
black-and-white limitation): the first N photos of a folder, scored in colour and as 8-bit grey
(Pillow's ``L``, back to RGB), points lost = colour - grey.

    python benchmarks/grey_bias.py ../shared/data/reference/kodak --n 8 --model default --model fast
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from rankiqa.inference import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="folder of colour photos (sorted by name)")
    ap.add_argument("--n", type=int, default=8, help="how many photos (default 8)")
    ap.add_argument("--model", action="append", default=None, help="model (repeatable)")
    args = ap.parse_args()
    paths = sorted(p for p in Path(args.folder).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif"))[: args.n]
    colour = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    grey = [np.asarray(Image.fromarray(c).convert("L").convert("RGB")) for c in colour]
    result = {"folder": args.folder, "photos": [p.name for p in paths]}
    for name in args.model or ["default"]:
        model = load_model(name)
        lost = np.asarray(model.score(colour)) - np.asarray(model.score(grey))
        result[name] = {"mean": round(float(lost.mean()), 2), "min": round(float(lost.min()), 2),
                        "max": round(float(lost.max()), 2)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
