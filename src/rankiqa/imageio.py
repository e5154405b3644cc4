"""Old import path (kept for existing code): decoding lives in :mod:`rankiqa.core.imageio`,
atomic writes in :mod:`rankiqa.core.files`; every public name of both is re-exported."""

from rankiqa.core.files import *  # noqa: F403
from rankiqa.core.imageio import *  # noqa: F403
