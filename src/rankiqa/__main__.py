"""``python -m rankiqa`` is the same as the ``rankiqa`` command."""

import sys

from rankiqa.cli import main

sys.exit(main())
