"""The test-time input protocol (contract 4) and its size arithmetic, without torch.

What a model file's ``input`` object says (resize, views, crop size), the checks every
image passes (:data:`MIN_SIDE`, :data:`MAX_ASPECT_RATIO`) and the sizes it is resized to.
:mod:`rankiqa.core.preprocess` applies it to torch tensors, and
:mod:`rankiqa.inference.scoring.views` to NumPy arrays (the scoring path without torch).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rankiqa.core.errors import UserError

DEFAULT_GRID = 3
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


def crop_offsets(length: int, size: int, count: int) -> list[int]:
    """Start offsets of ``count`` crops of ``size`` along a side of ``length``: the centre for
    one, else evenly spread from one end to the other (rounded half to even). The NumPy,
    torch and ONNX views all cut here.

    >>> crop_offsets(500, 224, 1), crop_offsets(500, 224, 3)
    ([138], [0, 138, 276])
    """
    if count == 1:
        return [(length - size) // 2]
    return [round(i * (length - size) / (count - 1)) for i in range(count)]


def resized_size(height: int, width: int, shorter: int) -> tuple[int, int]:
    """(H, W) after scaling so that the shorter side equals ``shorter`` (aspect kept)."""
    scale = shorter / min(height, width)
    if height <= width:
        return shorter, max(shorter, int(round(width * scale)))
    return max(shorter, int(round(height * scale))), shorter


def check_size(height: int, width: int) -> None:
    """Refuse images that are too elongated or too small to assess (an
    :class:`~rankiqa.core.imageio.ImageReadError`, so a batch run makes it an error row)."""
    from rankiqa.core.imageio import ImageReadError

    if min(height, width) < 1 or max(height, width) > MAX_ASPECT_RATIO * min(height, width):
        raise ImageReadError(
            f"{width}x{height} pixels: too elongated to score (aspect ratio above "
            f"{MAX_ASPECT_RATIO}:1)"
        )
    if min(height, width) < MIN_SIDE:
        raise ImageReadError(
            f"{width}x{height} pixels: too small to assess (shorter side below {MIN_SIDE} pixels)"
        )


def decode_size_hint(protocol: InputProtocol) -> int | None:
    """Smallest shorter side a decoder may deliver without changing what the protocol needs.

    Used for JPEG draft decoding (DCT-domain downscaling by 2, 4 or 8) when the protocol
    resizes to a much smaller size anyway; ``None`` when the native resolution is needed.
    """
    target = protocol.target_shorter_side()
    return None if target is None else int(math.ceil(target))
