"""The input protocol shared by fine-tuning, evaluation and scoring (contract 4).

An image is optionally resized so that its shorter side equals ``resize`` (bilinear with
antialiasing; ``None`` keeps the native resolution); an image whose shorter side is then still
below ``crop_size`` is upscaled so that it equals ``crop_size``. Training takes random
``crop_size`` crops; testing takes one of the views of :func:`eval_views`:

* ``full``: the whole (resized) image, one view (needs a head that accepts any size);
* ``center``: one center crop;
* ``crops:N``: N random crops (the paper: 30), seeded, so results are reproducible;
* ``grid``: a deterministic grid of ``ceil(H/S) × ceil(W/S)`` evenly spaced crops covering
  the whole image.

The network's scores of the views are averaged. Tensors are float RGB in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

from rankiqa.errors import UserError

POOLING_HELP = "crops:N (N random crops averaged; the paper uses 30), N, grid, center or full"


def parse_pooling(value: str | int) -> tuple[str, int]:
    """``"crops:30"``/``"30"``/``30`` → ``("crops", 30)``; ``grid``/``center``/``full`` → (mode, 0)."""
    text = str(value).strip().lower()
    if text in ("grid", "center", "full"):
        return text, 0
    number = text.removeprefix("crops:").removeprefix("crops")
    try:
        n = int(number)
    except ValueError:
        raise UserError(f"--crops: expected {POOLING_HELP}, got {value!r}") from None
    if n < 1:
        raise UserError(f"--crops: need at least one crop, got {value!r}")
    return "crops", n


def pooling_name(mode: str, n: int) -> str:
    return f"crops:{n}" if mode == "crops" else mode


def to_uint8_tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 array → 3×H×W uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def resize_image(
    image: torch.Tensor, resize: int | None, crop_size: int | None = None
) -> torch.Tensor:
    """Resize (3×H×W, any dtype) so the shorter side is ``resize``, then at least ``crop_size``."""
    short = min(image.shape[-2:])
    target = short if resize is None else int(resize)
    if crop_size is not None:
        target = max(target, int(crop_size))
    if target == short:
        return image
    return TF.resize(image, [target], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 → float in [0, 1] (float input is returned unchanged)."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


def random_crop(image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One uniformly placed ``size``×``size`` crop of a 3×H×W image (H, W ≥ size)."""
    h, w = image.shape[-2:]
    top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    return image[..., top : top + size, left : left + size]


def grid_positions(length: int, size: int) -> list[int]:
    """``ceil(length/size)`` evenly spaced crop offsets covering ``[0, length)``."""
    n = max(1, math.ceil(length / size))
    if n == 1:
        return [(length - size) // 2]
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def eval_views(
    image: torch.Tensor, mode: str, n: int, crop_size: int, seed: int = 0
) -> torch.Tensor:
    """The test-time views of one (already resized) 3×H×W image, stacked V×3×h×w."""
    h, w = image.shape[-2:]
    if mode == "full":
        return image.unsqueeze(0)
    if mode == "center":
        top, left = (h - crop_size) // 2, (w - crop_size) // 2
        return image[..., top : top + crop_size, left : left + crop_size].unsqueeze(0)
    if mode == "grid":
        return torch.stack(
            [
                image[..., t : t + crop_size, s : s + crop_size]
                for t in grid_positions(h, crop_size)
                for s in grid_positions(w, crop_size)
            ]
        )
    if mode == "crops":
        generator = torch.Generator().manual_seed(int(seed))
        return torch.stack([random_crop(image, crop_size, generator) for _ in range(n)])
    raise UserError(f"--crops: unknown pooling {mode!r}; expected {POOLING_HELP}")


def step_generator(seed: int, step: int) -> torch.Generator:
    """A generator that depends only on (seed, step): exact resume of per-iteration randomness."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step)) % (2**63 - 1))
