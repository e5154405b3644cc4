"""Compatibility shim: the exception lives in :mod:`rankiqa.core.errors`."""

from rankiqa.core.errors import UserError

__all__ = ["UserError"]
