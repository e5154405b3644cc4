"""Image decoding to 8-bit RGB arrays and image discovery."""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from rankiqa.core.errors import UserError

#: Pillow's stub or document formats that need external tools: never picked up by a scan
_NOT_PHOTOS = {".eps", ".ps", ".bufr", ".grib", ".h5", ".hdf", ".fit", ".fits", ".wmf", ".emf"}
_NOT_PHOTOS |= {".mpeg", ".mpg"}


#: File name suffixes that pillow-heif decodes
_HEIF_SUFFIXES = (".heic", ".heif", ".hif")

#: whether HEIC/HEIF photos decode (pillow-heif is installed); AVIF: Pillow's own decoder.
#: Found without importing it: the opener is registered on the first HEIF file or folder scan,
#: which keeps a one-photo cold start free of its import
HEIF_SUPPORTED = importlib.util.find_spec("pillow_heif") is not None


@functools.cache
def _register_heif() -> bool:
    """Let Pillow open HEIC/HEIF (iPhone photos) through pillow-heif, once, where it is
    installed and imports."""
    if not HEIF_SUPPORTED:
        return False
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


@functools.cache
def image_extensions() -> tuple[str, ...]:
    """File name suffixes of the formats Pillow decodes (gif, webp, tiff, ...; animations: the
    first frame), used by folder and pattern scans; computed on first use, because loading
    every Pillow plugin costs a one-photo run a tenth of its start-up."""
    _register_heif()
    Image.init()
    readable = {e for e, f in Image.registered_extensions().items() if f in Image.OPEN}
    return tuple(sorted(readable - _NOT_PHOTOS))


def prepare_decoder(path: str | os.PathLike) -> None:
    """Register the decoder a file name calls for before ``PIL.Image.open`` meets it (HEIF
    through pillow-heif, registered lazily); :func:`read_image` does this itself."""
    if Path(path).suffix.lower() in _HEIF_SUFFIXES:
        _register_heif()


def __getattr__(name: str) -> object:
    if name == "IMAGE_EXTENSIONS":  # the former constant, computed on first use
        return image_extensions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Images with more pixels than this are refused (decompression-bomb guard): 89,478,485
#: pixels (about 89.5 megapixels, Pillow's own default); ``max_pixels`` / ``--max-pixels``
#: raise or lower it, Pillow's limit included.
DEFAULT_MAX_PIXELS = 89_478_485

#: File name suffixes of camera RAW photos (and HEIF ones without pillow-heif): never
#: decoded, named "not supported".
UNSUPPORTED_PHOTO_EXTENSIONS = (
    ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".k25", ".kdc",
    ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl",
    ".sr2", ".srf", ".srw", ".x3f",
) + (() if HEIF_SUPPORTED else (".heic", ".heif"))  # fmt: skip

#: metadata sidecars beside photos (XMP of darktable/Lightroom, ...): not images, not worth a
#: "skipped" line either
SIDECAR_SUFFIXES = (".xmp", ".pp3", ".dop", ".on1", ".cos")

_PILLOW_LIMIT = threading.Lock()


class ImageReadError(UserError):
    """An image file that cannot be decoded (unreadable, truncated, not an image, too large)."""


@contextmanager
def naming(item: object) -> Iterator[None]:
    """Prefix the file name to an :class:`ImageReadError` raised inside, when ``item`` is a
    path whose name the message does not already start with (the API names the bad file).

    >>> try:
    ...     with naming("photo.jpg"):
    ...         raise ImageReadError("1x1 pixels: too small to assess")
    ... except ImageReadError as exc:
    ...     print(exc)
    photo.jpg: 1x1 pixels: too small to assess
    """
    try:
        yield
    except ImageReadError as exc:
        name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
        if name is None or str(exc).startswith(name):
            raise
        raise ImageReadError(f"{name}: {exc}") from None


@contextmanager
def _open_limited(path: Path, max_pixels: int | None) -> Iterator[Image.Image]:
    """``Image.open`` with Pillow's decompression-bomb limit set to ``max_pixels`` (``None``:
    none), so Pillow neither warns nor refuses below it; larger images raise
    :class:`ImageReadError`. The limit is Pillow's global, so opening holds a lock."""
    prepare_decoder(path)
    with _PILLOW_LIMIT:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            size = _quiet_size(path)
            what = f"{size[0]}x{size[1]}" if size else "size unknown"
            raise ImageReadError(_too_large(path, what, max_pixels)) from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageReadError(_too_large(path, f"{width}x{height}", max_pixels))
        yield image


def _too_large(path: Path, what: str, max_pixels: int | None) -> str:
    return (
        f"{path}: too many pixels ({what}, more than the limit of {max_pixels}; possible "
        "decompression bomb: raise the limit with --max-pixels or max_pixels=)"
    )


def _quiet_size(path: Path) -> tuple[int, int] | None:
    """The size in the header, with Pillow's limit off (only the header is read)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - only for the message
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def image_size(
    path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[int, int] | None:
    """``(width, height)`` from the file's header, or ``None`` if it is not a readable image
    within ``max_pixels``; never warns.

    >>> image_size("no/such.png") is None
    True
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _open_limited(Path(path), max_pixels) as image:
                return image.size
    except Exception:  # noqa: BLE001 - any unreadable file: no size
        return None


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
    """PIL has no 16-bit-per-channel RGB mode; decode such PNG/TIFF files with OpenCV (the
    torch extra brings it; ``None`` without it: Pillow's 8-bit decoding is used)."""
    try:
        import cv2
    except ImportError:
        return None

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
        if path.suffix.lower() in UNSUPPORTED_PHOTO_EXTENSIONS:
            raise ImageReadError(f"{path}: {_unsupported(path)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. TIFF "Truncated File Read": the error says it
            with _open_limited(path, max_pixels) as image:
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(
            f"{path}: too many pixels (possible decompression bomb): {exc}"
        ) from None
    except Image.UnidentifiedImageError:
        if HEIF_SUPPORTED and not _register_heif.cache_info().currsize and _register_heif():
            return read_image(path, max_pixels, draft_size)  # a HEIF photo under another name
        raise ImageReadError(f"{path}: not a recognised image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        if "truncated" in str(exc) or "bytes not processed" in str(exc):
            raise ImageReadError(f"{path}: truncated file (the image data ends early)") from None
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
    return Path(path).suffix.lower() in image_extensions()


def _unsupported(path: Path) -> str:
    if path.suffix.lower() in (".heic", ".heif"):
        return (
            f"HEIF files ({path.suffix}) need pillow-heif (pip install pillow-heif); or convert "
            "them to JPEG, PNG or TIFF"
        )
    return f"camera RAW files ({path.suffix}) are not supported; convert them to JPEG, PNG or TIFF"


def find_images(root: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, case-insensitive), sorted for determinism."""
    return scan_folder(root, recursive)[0]


def scan_folder(root: str | os.PathLike, recursive: bool = True) -> tuple[list[Path], list[Path]]:
    """``(images, skipped)`` under ``root``, both sorted: the files with an image suffix, and
    every other file (RAW, text, ...; hidden files such as .DS_Store and sidecars such as
    photo.jpg.xmp aside), so a
    caller can say what it left out."""
    root = Path(root)
    pattern = "**/*" if recursive else "*"
    images, skipped = [], []
    for path in sorted(root.glob(pattern)):
        if not path.is_file():
            continue
        if is_image_name(path):
            images.append(path)
        elif not path.name.startswith(".") and path.suffix.lower() not in SIDECAR_SUFFIXES:
            skipped.append(path)
    return images, skipped


def skip_reason(path: str | os.PathLike) -> str:
    """Why a folder scan leaves ``path`` out.

    >>> skip_reason("a/IMG_1.CR2")
    'camera RAW files (.CR2) are not supported; convert them to JPEG, PNG or TIFF'
    >>> skip_reason("notes.txt")
    'not an image file name (.txt)'
    """
    path = Path(path)
    if path.suffix.lower() in UNSUPPORTED_PHOTO_EXTENSIONS:
        return _unsupported(path)
    return f"not an image file name ({path.suffix or 'no suffix'})"
