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

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rankiqa.core.errors import UserError

DEFAULT_GRID = 3
DEFAULT_SEED = 0
#: Images more elongated than this are refused: resizing a 1×65535 strip to a shorter side of
#: a few hundred pixels would need tens of gigabytes.
MAX_ASPECT_RATIO = 100
#: Images whose shorter side is below this are refused (an error row, not a number): the
#: backbones downsample by 32, so a smaller image has less than one feature cell of content.
MIN_SIDE = 32

POOLING_HELP = (
    "crops:N (N random crops averaged; the paper uses 30), N, grid, grid:K, center or full"
)


@dataclass(frozen=True)
class InputProtocol:
    """How images are prepared for a model at test time (the model file's ``input`` field).

    Examples
    --------
    >>> protocol = InputProtocol(resize=320, test_crops="center", crop_size=224)
    >>> protocol.to_dict()
    {'resize': 320, 'test_crops': 'center', 'crop_size': 224}
    >>> InputProtocol.from_dict({"test_crops": "grid:2"})
    InputProtocol(resize=None, test_crops='grid:2', crop_size=224)
    """

    resize: int | None = None
    test_crops: str = "full"
    crop_size: int = 224

    def __post_init__(self) -> None:
        parse_test_crops(self.test_crops)
        if self.resize is not None and int(self.resize) < 1:
            raise UserError(f"input resize must be a positive integer or null, got {self.resize}")
        if int(self.crop_size) < 1:
            raise UserError(f"input crop_size must be a positive integer, got {self.crop_size}")

    @classmethod
    def from_dict(cls, data: dict) -> InputProtocol:
        resize = data.get("resize")
        return cls(
            resize=None if resize is None else int(resize),
            test_crops=str(data.get("test_crops", "full")),
            crop_size=int(data.get("crop_size", 224)),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def target_shorter_side(self) -> int | None:
        """Shorter side of the image the views are cut from (``None``: native resolution)."""
        if self.resize is None:
            return None
        return max(int(self.resize), int(self.crop_size))


def parse_test_crops(spec: str) -> tuple[str, int]:
    """Parse ``full``, ``center``, ``crops:N``, ``grid`` or ``grid:K`` into (kind, count)."""
    kind, _, count = str(spec).partition(":")
    if kind in ("full", "center") and not count:
        return kind, 1
    if kind in ("crops", "grid"):
        if not count and kind == "grid":
            return kind, DEFAULT_GRID
        if count.isdigit() and int(count) >= 1:
            return kind, int(count)
    raise UserError(
        f"invalid test crops {spec!r}; use full, center, crops:N, grid or grid:K (N, K >= 1)"
    )


def parse_pooling(value: str | int, option: str = "--crops") -> str:
    """A test-time pooling option as a ``test_crops`` spec: ``"30"`` → ``"crops:30"``.

    Validates ``crops:N``, ``N``, ``grid[:K]``, ``center`` and ``full``; a bad value is a
    :class:`UserError` naming ``option``.

    Examples
    --------
    >>> parse_pooling("30"), parse_pooling("Grid"), parse_pooling("center")
    ('crops:30', 'grid', 'center')
    """
    text = str(value).strip().lower()
    if text.isdigit():
        text = f"crops:{text}"
    try:
        parse_test_crops(text)
    except UserError:
        raise UserError(f"{option}: expected {POOLING_HELP}, got {value!r}") from None
    return text


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


def resized_size(height: int, width: int, shorter: int) -> tuple[int, int]:
    """(H, W) after scaling so that the shorter side equals ``shorter`` (aspect kept)."""
    scale = shorter / min(height, width)
    if height <= width:
        return shorter, max(shorter, int(round(width * scale)))
    return max(shorter, int(round(height * scale))), shorter


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
    from rankiqa.core.imageio import ImageReadError

    height, width = image.shape[-2:]
    if min(height, width) < 1 or max(height, width) > MAX_ASPECT_RATIO * min(height, width):
        raise ImageReadError(
            f"{width}x{height} pixels: too elongated to score (aspect ratio above "
            f"{MAX_ASPECT_RATIO}:1)"
        )
    if min(height, width) < MIN_SIDE:
        raise ImageReadError(
            f"{width}x{height} pixels: too small to assess (shorter side below {MIN_SIDE} pixels)"
        )
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


def _offsets(length: int, size: int, count: int) -> list[int]:
    if count == 1:
        return [(length - size) // 2]
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def grid_crops(image: torch.Tensor, size: int, grid: int = DEFAULT_GRID) -> torch.Tensor:
    """A deterministic ``grid``×``grid`` set of ``size`` crops spanning a 3×H×W image: G²×3×s×s."""
    height, width = image.shape[-2:]
    views = [
        image[:, top : top + size, left : left + size]
        for top in _offsets(height, size, grid)
        for left in _offsets(width, size, grid)
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


def decode_size_hint(protocol: InputProtocol) -> int | None:
    """Smallest shorter side a decoder may deliver without changing what the protocol needs.

    Used for JPEG draft decoding (DCT-domain downscaling by 2, 4 or 8) when the protocol
    resizes to a much smaller size anyway; ``None`` when the native resolution is needed.
    """
    target = protocol.target_shorter_side()
    return None if target is None else int(math.ceil(target))


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
