"""Old import path of :mod:`rankiqa.core.model_file` (kept for existing code): the same module."""

import sys

from rankiqa.core import model_file as _module

sys.modules[__name__] = _module
