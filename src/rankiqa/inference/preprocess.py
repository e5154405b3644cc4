"""Old import path of :mod:`rankiqa.core.preprocess` (kept for existing code): the same module."""

import sys

from rankiqa.core import preprocess as _module

sys.modules[__name__] = _module
