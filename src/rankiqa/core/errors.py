"""The one exception type for user errors (bad file, bad option); the CLI prints it as one line."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: missing/malformed file, unreadable image, bad option.

    The CLI prints ``rankiqa: error: <message>`` and exits with status 2, without a traceback.
    The message must name the file (and line) or option at fault.
    """
