"""The light install (``pip install rankiqa``: no torch, OpenCV, SciPy, ...) inside a test
process: scripts that make every module of the ``torch`` extra fail to import, as where it is
not installed, so the suite checks the light install without a second environment."""

from __future__ import annotations

import textwrap

#: the light install in this process: every module of the torch extra fails to import, as
#: where it is not installed (ModuleNotFoundError)
NO_TORCH = textwrap.dedent(
    """
    import sys
    from rankiqa.core.errors import TORCH_EXTRA_MODULES
    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in TORCH_EXTRA_MODULES:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, NoTorch())
    """
)

#: run the CLI on the light install, and check torch never entered sys.modules
BLOCK_TORCH = NO_TORCH + textwrap.dedent(
    """
    from rankiqa.cli import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    assert "torch" not in sys.modules
    sys.exit(code)
    """
)
