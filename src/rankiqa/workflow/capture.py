"""When a photo was taken: EXIF ``DateTimeOriginal`` plus its sub-seconds.

Editors that strip metadata leave no time; such photos are then grouped by their look alone
(:mod:`rankiqa.workflow.bursts`).
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime

from PIL import Image

from rankiqa.core.imageio import prepare_decoder

#: EXIF sub-IFD and its tags (EXIF 2.32): DateTimeOriginal, DateTimeDigitized and their
#: SubSecTime companions
EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL, SUB_SEC_ORIGINAL = 0x9003, 0x9291
DATE_TIME_DIGITIZED, SUB_SEC_DIGITIZED = 0x9004, 0x9292


def parse_exif_time(text: object, subsec: object = None) -> float | None:
    """Seconds since 1970 (local clock, no zone) of an EXIF ``YYYY:MM:DD HH:MM:SS`` text,
    plus its sub-second digits; ``None`` when it is blank or malformed.

    >>> parse_exif_time("2024:05:01 10:00:01", "25") - parse_exif_time("2024:05:01 10:00:00")
    1.25
    >>> parse_exif_time("    :  :     :  :  ") is None
    True
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    seconds = (moment - datetime(1970, 1, 1)).total_seconds()
    if isinstance(subsec, bytes):
        subsec = subsec.decode("ascii", "replace")
    digits = str(subsec or "").strip().rstrip("\x00")
    if digits.isdigit():
        seconds += int(digits) / 10 ** len(digits)
    return seconds


def capture_time(path: str | os.PathLike) -> float | None:
    """The capture time of an image file (see :func:`parse_exif_time`): ``DateTimeOriginal``,
    else ``DateTimeDigitized``; ``None`` without EXIF or for an unreadable file.

    >>> capture_time("no/such.jpg") is None
    True
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepare_decoder(path)
            with Image.open(path) as image:
                exif = image.getexif().get_ifd(EXIF_IFD)
    except Exception:  # noqa: BLE001 - no time; the scoring row reports a bad file
        return None
    for date_tag, sub_tag in ((DATE_TIME_ORIGINAL, SUB_SEC_ORIGINAL),
                              (DATE_TIME_DIGITIZED, SUB_SEC_DIGITIZED)):  # fmt: skip
        seconds = parse_exif_time(exif.get(date_tag), exif.get(sub_tag))
        if seconds is not None:
            return seconds
    return None
