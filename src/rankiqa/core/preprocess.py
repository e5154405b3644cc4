"""The one image-to-tensor stack: test-time input protocol (docs/contracts.md contract 4), resizing and crops.

An image (float RGB in [0, 1], 3×H×W) is optionally resized so its shorter side equals
``resize`` (bilinear with antialias), upscaled if its shorter side is then below
``crop_size``, and turned into *views* (V×3×h×w) whose network scores are averaged:

* ``full``: the whole (resized) image, one view; needs a head that accepts any size;
* ``center``: one ``crop_size`` center crop;
* ``crops:N``: N random ``crop_size`` crops (the paper uses 30), seeded so scores repeat;
* ``grid`` / ``grid:K``: a deterministic K×K grid of crops covering the image (K = 3 by default).

The same functions serve ``rankiqa score``, the Python API, ``rankiqa evaluate`` and the
training data (ranked sets, IQA datasets), so a model is trained, validated and scored on
images prepared the same way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rankiqa.core.errors import UserError
from rankiqa.core.protocol import (  # noqa: F401 - the protocol's names, used with these helpers
    DEFAULT_GRID,
    MAX_ASPECT_RATIO,
    MIN_SIDE,
    POOLING_HELP,
    InputProtocol,
    check_size,
    crop_offsets,
    decode_size_hint,
    parse_pooling,
    parse_test_crops,
    resized_size,
)

DEFAULT_SEED = 0


def to_float_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 RGB array -> float 3×H×W tensor in [0, 1]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise UserError(f"expected a uint8 H×W×3 RGB array, got {image.dtype} {image.shape}")
    # Convert in H×W×3 order, then permute: a channels-last-strided 3×H×W view (no strided copy).
    return (
        torch.from_numpy(np.require(image, requirements=("C", "W")))
        .float()
        .div_(255.0)
        .permute(2, 0, 1)
    )


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 3×H×W tensor → float in [0, 1] (a float tensor is returned unchanged)."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


def resize_shorter(image: torch.Tensor, shorter: int) -> torch.Tensor:
    """Resize a 3×H×W (or N×3×H×W) float image so its shorter side is ``shorter``.

    Bilinear interpolation with antialias (as torchvision's ``resize``); a no-op when the
    shorter side already has that length.
    """
    height, width = image.shape[-2:]
    size = resized_size(height, width, shorter)
    if size == (height, width):
        return image
    batched = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batched, size=size, mode="bilinear", align_corners=False, antialias=True)
    out = out.clamp_(0.0, 1.0)
    return out if image.dim() == 4 else out.squeeze(0)


def prepare_image(image: torch.Tensor, protocol: InputProtocol) -> torch.Tensor:
    """Apply the resize step of ``protocol`` to a 3×H×W float image.

    The shorter side becomes ``resize`` (if set); an image whose shorter side is then smaller
    than ``crop_size`` is upscaled (bilinear) so that its shorter side equals ``crop_size``,
    for every ``test_crops`` kind, ``full`` included.
    """
    check_size(*image.shape[-2:])
    if protocol.resize is not None:
        image = resize_shorter(image, int(protocol.resize))
    return fit_to_crop(image, int(protocol.crop_size))


def fit_to_crop(image: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Upscale a float image (bilinear) so that its shorter side is at least ``crop_size``.

    Examples
    --------
    >>> fit_to_crop(torch.rand(3, 20, 30), 40).shape, fit_to_crop(torch.rand(3, 50, 60), 40).shape
    (torch.Size([3, 40, 60]), torch.Size([3, 50, 60]))
    """
    if min(image.shape[-2:]) < crop_size:
        return resize_shorter(image, int(crop_size))
    return image


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size``×``size`` crop of a (..., H, W) tensor (H, W >= size)."""
    height, width = image.shape[-2:]
    top = (height - size) // 2
    left = (width - size) // 2
    return image[..., top : top + size, left : left + size]


def grid_crops(image: torch.Tensor, size: int, grid: int = DEFAULT_GRID) -> torch.Tensor:
    """A deterministic ``grid``×``grid`` set of ``size`` crops spanning a 3×H×W image: G²×3×s×s."""
    height, width = image.shape[-2:]
    views = [
        image[:, top : top + size, left : left + size]
        for top in crop_offsets(height, size, grid)
        for left in crop_offsets(width, size, grid)
    ]
    return torch.stack(views)


def random_crop(image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One uniformly placed ``size``×``size`` crop of a (..., H, W) image (H, W ≥ size)."""
    h, w = image.shape[-2:]
    top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    return image[..., top : top + size, left : left + size]


def random_crops(
    image: torch.Tensor, size: int, count: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` uniformly random ``size`` crops of a 3×H×W image: N×3×s×s."""
    height, width = image.shape[-2:]
    tops = torch.randint(0, height - size + 1, (count,), generator=generator).tolist()
    lefts = torch.randint(0, width - size + 1, (count,), generator=generator).tolist()
    return torch.stack(
        [image[:, t : t + size, s : s + size] for t, s in zip(tops, lefts, strict=True)]
    )


def image_views(
    image: torch.Tensor, protocol: InputProtocol, seed: int = DEFAULT_SEED
) -> torch.Tensor:
    """All views (V×3×h×w) of one 3×H×W float image in [0, 1] under ``protocol``.

    The image's score is the mean of the model's scores over the views. ``crops:N`` draws its
    crops from a generator seeded with ``seed`` so that repeated scoring gives the same number.

    Examples
    --------
    >>> image = torch.rand(3, 300, 400)
    >>> image_views(image, InputProtocol(resize=256, test_crops="full")).shape
    torch.Size([1, 3, 256, 341])
    >>> image_views(image, InputProtocol(test_crops="grid", crop_size=100)).shape
    torch.Size([9, 3, 100, 100])
    """
    if image.dim() != 3 or image.shape[0] != 3:
        raise UserError(f"expected a 3×H×W image tensor, got shape {tuple(image.shape)}")
    kind, count = parse_test_crops(protocol.test_crops)
    image = prepare_image(image, protocol)
    size = int(protocol.crop_size)
    if kind == "full":
        return image.unsqueeze(0)
    if kind == "center":
        return center_crop(image, size).unsqueeze(0)
    if kind == "grid":
        return grid_crops(image, size, count)
    generator = torch.Generator().manual_seed(seed)
    return random_crops(image, size, count, generator)


class InputTransform(nn.Module):
    """The input protocol as a module: one image in, its V×3×h×w views out.

    Accepts a float 3×H×W tensor in [0, 1] or a uint8 H×W×3 RGB tensor/array (as decoded);
    ``rankiqa.get_model_weights(name).transforms()`` returns the one of a packaged model, and
    ``rankiqa export --with-preprocessing`` puts the same steps into an ONNX graph.

    Examples
    --------
    >>> transform = InputTransform(InputProtocol(resize=64, test_crops="center", crop_size=48))
    >>> transform
    InputTransform(resize=64, test_crops='center', crop_size=48)
    >>> transform(torch.rand(3, 100, 150)).shape
    torch.Size([1, 3, 48, 48])
    >>> transform(np.zeros((100, 150, 3), np.uint8)).shape
    torch.Size([1, 3, 48, 48])
    """

    def __init__(self, protocol: InputProtocol, seed: int = DEFAULT_SEED):
        super().__init__()
        self.protocol = protocol
        self.seed = seed

    def forward(self, image: torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            image = to_float_tensor(image)
        elif image.dtype == torch.uint8 and image.dim() == 3 and image.shape[-1] == 3:
            image = image.permute(2, 0, 1).float().div(255.0)
        return image_views(image, self.protocol, seed=self.seed)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.protocol.to_dict().items())
