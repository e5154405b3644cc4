"""Image decoding to 8-bit RGB arrays and image discovery."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from rankiqa.core.errors import UserError

#: Pillow's stub or document formats that need external tools: never picked up by a scan
_NOT_PHOTOS = {".eps", ".ps", ".bufr", ".grib", ".h5", ".hdf", ".fit", ".fits", ".wmf", ".emf"}
_NOT_PHOTOS |= {".mpeg", ".mpg"}


def _pillow_extensions() -> tuple[str, ...]:
    Image.init()
    readable = {e for e, f in Image.registered_extensions().items() if f in Image.OPEN}
    return tuple(sorted(readable - _NOT_PHOTOS))


#: File name suffixes of the formats Pillow decodes (gif, webp, tiff, ...; animations: the
#: first frame), used by folder and pattern scans.
IMAGE_EXTENSIONS = _pillow_extensions()

#: Images with more pixels than this are refused (decompression-bomb guard): 100 megapixels.
DEFAULT_MAX_PIXELS = 100_000_000


class ImageReadError(UserError):
    """An image file that cannot be decoded (unreadable, truncated, not an image, too large)."""


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert any PIL image (grey, palette, RGBA, CMYK, 16-bit, float) to uint8 H×W×3 RGB.

    EXIF orientation is applied; transparency is composited over white; 16-bit and float
    images are rescaled to 8 bits (16-bit by >> 8, float by clipping [0, 1] or [0, 255]).
    """
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(image, dtype=np.int64)
        scale = 65535 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255
        grey = np.clip(arr * 255.0 / scale + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        if arr.max(initial=0.0) <= 1.0:
            arr = arr * 255.0
        grey = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("LA", "PA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).copy()


def _read_16bit_rgb(path: Path) -> np.ndarray | None:
    """PIL has no 16-bit-per-channel RGB mode; decode such PNG/TIFF files with OpenCV."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    arr = arr[:, :, :3][:, :, ::-1]  # BGR(A) -> RGB
    return (arr.astype(np.uint32) * 255 // 65535).astype(np.uint8)


def read_image(
    path: str | os.PathLike,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    draft_size: int | None = None,
) -> np.ndarray:
    """Decode the image at ``path`` to a uint8 H×W×3 RGB array.

    ``draft_size``: if given, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT
    scaling, much faster) as long as its shorter side stays >= ``draft_size``; use it when the
    image is downscaled to that size anyway. Other formats are always decoded in full.

    Raises :class:`ImageReadError` (naming the file) for a missing, empty, truncated,
    non-image or larger-than-``max_pixels`` file.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. TIFF "Truncated File Read": the error says it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if max_pixels is not None and width * height > max_pixels:
                    raise ImageReadError(
                        f"{path}: {width}x{height} pixels exceeds the limit of {max_pixels} "
                        "(possible decompression bomb)"
                    )
                if draft_size is not None and image.format == "JPEG":
                    _draft(image, draft_size)
                image.load()
                if image.mode in ("RGB", "RGBA") and path.suffix.lower() in (
                    ".png",
                    ".tif",
                    ".tiff",
                ):
                    bits = image.info.get("bits")
                    if bits == 16:  # pragma: no cover - Pillow currently downsamples itself
                        wide = _read_16bit_rgb(path)
                        if wide is not None:
                            return wide
                return to_rgb8(image)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"{path}: too many pixels (possible decompression bomb): {exc}"
        ) from None
    except Image.DecompressionBombWarning as exc:
        raise ImageReadError(
            f"{path}: too many pixels (possible decompression bomb): {exc}"
        ) from None
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a recognised image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot decode image ({exc})") from None
    except (MemoryError, RecursionError) as exc:
        raise ImageReadError(f"{path}: cannot decode image ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a malformed file may trip any decoder internals
        raise ImageReadError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from None


def _draft(image: Image.Image, shorter: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale keeping the shorter side >= ``shorter``."""
    width, height = image.size
    factor = min(width, height) / max(1, shorter)
    if factor < 2:
        return
    requested = (int(np.ceil(width / factor)), int(np.ceil(height / factor)))
    image.draft(None, requested)


def is_image_name(path: str | os.PathLike) -> bool:
    """Whether the file name has the suffix of a format Pillow decodes (case-insensitive).

    >>> is_image_name("a.GIF"), is_image_name("notes.txt")
    (True, False)
    """
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def find_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted for determinism."""
    root = Path(root)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in root.glob(pattern) if p.is_file() and is_image_name(p))
