"""Old import path of :mod:`rankiqa.core.errors` (kept for existing code): the same module."""

import sys

from rankiqa.core import errors as _module

sys.modules[__name__] = _module
