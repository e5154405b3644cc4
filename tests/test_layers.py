"""The package layers point one way, with no cycles (read from every import statement).

Layers, bottom to top (a module may import its own package and any lower layer only)::

    core (errors, files, decoding, seeding, devices, input protocol, file formats)
      -> distortions | models | losses   (side by side: none imports another)
      -> data -> inference -> evaluation -> training
      -> integrations, report, workflow, the ``rankiqa`` facade (``rankiqa/__init__.py``)
      -> cli -> __main__

Each name has one home: the old paths of core modules (``rankiqa.errors``, ``rankiqa.imageio``,
``rankiqa.inference.model_file``, ``rankiqa.inference.preprocess``) are gone, no module re-exports
a core name, and ruff bans the old import paths (``banned-api`` in ``pyproject.toml``). A new
top-level package must be added to ``LAYERS`` (where does it belong?).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "rankiqa"

#: layer of each top-level part of the package; "" is ``rankiqa/__init__.py`` itself
LAYERS: dict[str, int] = {
    "core": 0,
    "weights": 0,  # packaged model files (data only)
    "distortions": 1,
    "models": 1,
    "losses": 1,
    "data": 2,
    "inference": 3,
    "evaluation": 4,
    "training": 5,
    "integrations": 6,
    "report": 6,  # HTML reports and overlays (maps branch): presentation over inference
    "workflow": 6,  # cull (bursts, picks), XMP sidecars: a photographer's workflow over scores
    "": 6,
    "cli": 7,
    "__main__": 8,
}


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports(source: str, module: str, package: bool) -> Iterator[tuple[str, int]]:
    """Every ``rankiqa`` module named by an import in ``source`` (any depth: functions,
    ``TYPE_CHECKING`` blocks, ``try``), as (module, line); ``from X import y`` yields ``X.y``
    too, since ``y`` may be a submodule."""
    base = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                yield f"{target}.{alias.name}", node.lineno


def top(module: str) -> str:
    """The top-level part of a ``rankiqa`` module: ``rankiqa.data.iqa.x`` -> ``data``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def collect(src: Path = SRC) -> tuple[set[str], dict[str, bool], list[tuple[str, str, int]]]:
    """(all modules, module -> is a package, import edges (importer, imported, line))."""
    files = sorted((src / PACKAGE).rglob("*.py"))
    modules = {module_name(p, src): is_package(p) for p in files}
    edges = []
    for path in files:
        name = module_name(path, src)
        for target, line in imports(path.read_text(encoding="utf-8"), name, is_package(path)):
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                # keep the longest existing module (``from rankiqa import __version__`` -> rankiqa)
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    edges.append((name, target, line))
    return set(modules), modules, sorted(set(edges))


def layer_breaks(edges: list[tuple[str, str, int]]) -> list[str]:
    """Edges that go sideways or up, or leave the known layers."""
    breaks = []
    for importer, imported, line in edges:
        a, b = top(importer), top(imported)
        if a not in LAYERS or b not in LAYERS:
            breaks.append(f"{importer}:{line} -> {imported}: unknown part; add it to LAYERS")
        elif a != b and LAYERS[b] >= LAYERS[a]:
            breaks.append(f"{importer}:{line} imports {imported} (layer {b!r} is not below {a!r})")
    return breaks


def node(module: str, packages: dict[str, bool]) -> str:
    """The package a module belongs to (a package is its own node; top-level modules too)."""
    if packages.get(module) or module.count(".") == 1:
        return module
    return module.rsplit(".", 1)[0]


def package_cycles(edges: list[tuple[str, str, int]], packages: dict[str, bool]) -> list[list[str]]:
    """Cycles in the graph of packages (one representative cycle per strongly connected set)."""
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in edges:
        a, b = node(importer, packages), node(imported, packages)
        # a package's __init__ re-exporting its own submodules is not a cycle
        if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
            graph.setdefault(a, set()).add(b)
    return strongly_connected(graph)


def module_cycles(edges: list[tuple[str, str, int]]) -> list[list[str]]:
    """Cycles in the graph of modules: every import counts, at module level or inside a
    function, so a circle kept alive by a function-level import is found too."""
    graph: dict[str, set[str]] = {}
    for importer, imported, _ in edges:
        graph.setdefault(importer, set()).add(imported)
    return strongly_connected(graph)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one node (each holds a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def test_every_import_points_down() -> None:
    _, _, edges = collect()
    assert edges, "no rankiqa imports found: is SRC right?"
    breaks = layer_breaks(edges)
    assert not breaks, "layer breaks:\n" + "\n".join(breaks)


def test_no_cycles_between_packages() -> None:
    _, packages, edges = collect()
    cycles = package_cycles(edges, packages)
    assert not cycles, f"package cycles: {cycles}"


def test_no_cycles_between_modules() -> None:
    _, _, edges = collect()
    cycles = module_cycles(edges)
    assert not cycles, f"module import cycles: {cycles}"


def test_checker_finds_module_cycles() -> None:
    edges = [
        ("rankiqa.inference.a", "rankiqa.inference.b", 1),
        ("rankiqa.inference.b", "rankiqa.inference.a", 9),  # e.g. inside a function
        ("rankiqa.inference.b", "rankiqa.core.c", 1),
    ]
    assert module_cycles(edges) == [["rankiqa.inference.a", "rankiqa.inference.b"]]


def test_core_imports_nothing_above_it() -> None:
    _, _, edges = collect()
    above = [f"{a}:{line} -> {b}" for a, b, line in edges if top(a) == "core" and top(b) != "core"]
    assert not above, above


def test_cli_is_imported_only_by_main() -> None:
    _, _, edges = collect()
    users = {a for a, b, _ in edges if top(b) == "cli" and top(a) not in ("cli", "__main__")}
    assert not users, users


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        # inside a function, relative, from-import of a submodule: all seen
        ("rankiqa.data.x", "def f():\n    from rankiqa.training import runner\n", "training"),
        ("rankiqa.core.x", "from ..inference import api\n", "inference"),
        ("rankiqa.models.x", "import rankiqa.losses.ranking\n", "losses"),
        ("rankiqa.inference.x", "from rankiqa import cli\n", "cli"),
    ],
)
def test_checker_catches_breaks(tmp_path: Path, importer: str, source: str, expected: str) -> None:
    """The checker itself: a planted upward or sideways import is reported."""
    root = tmp_path / "src"
    for module in (importer, f"rankiqa.{expected}.y"):
        path = root.joinpath(*module.split(".")).with_suffix(".py")
        for parent in [path.parent, *path.parent.parents]:
            if parent == root:
                break
            parent.mkdir(parents=True, exist_ok=True)
            (parent / "__init__.py").touch()
        path.write_text(source if module == importer else "", encoding="utf-8")
    (root / "rankiqa" / expected / "runner.py").touch()
    (root / "rankiqa" / expected / "api.py").touch()
    (root / "rankiqa" / expected / "ranking.py").touch()
    _, _, edges = collect(root)
    breaks = layer_breaks(edges)
    assert any(importer in b and f"rankiqa.{expected}" in b for b in breaks), breaks


def test_checker_finds_cycles() -> None:
    edges = [
        ("rankiqa.training.a", "rankiqa.data.b", 1),
        ("rankiqa.data.b", "rankiqa.inference.c", 1),
        ("rankiqa.inference.c", "rankiqa.training.a", 1),
        ("rankiqa.data", "rankiqa.data.b", 1),  # a package re-exporting its own module: fine
    ]
    packages = {"rankiqa.data": True}
    assert package_cycles(edges, packages) == [
        ["rankiqa.data", "rankiqa.inference", "rankiqa.training"]
    ]


#: old homes of modules and names, removed; ruff's banned-api keeps them out
OLD_MODULES = (
    "rankiqa.errors",
    "rankiqa.imageio",
    "rankiqa.inference.model_file",
    "rankiqa.inference.preprocess",
    "rankiqa.data.iqa.loaders",
    "rankiqa.training.runner",
)
OLD_NAMES = (
    "rankiqa.inference.InputProtocol",
    "rankiqa.inference.read_metadata",
    "rankiqa.training.runner.seed_step",
    "rankiqa.training.runner.resolve_device",
    "rankiqa.data.iqa.transforms.normalise_pooling",
    "rankiqa.data.iqa.transforms.POOLING_HELP",
)


@pytest.mark.parametrize("module", OLD_MODULES)
def test_old_module_paths_are_gone(module: str) -> None:
    assert importlib.util.find_spec(module) is None
    with pytest.raises(ModuleNotFoundError):
        __import__(module)


def test_old_paths_are_banned_by_ruff() -> None:
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = tomllib.loads((SRC.parent / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    banned = lint["flake8-tidy-imports"]["banned-api"]
    assert "TID" in lint["select"]
    assert set(OLD_MODULES) | set(OLD_NAMES) <= set(banned)


def reexports(source: str, home: str) -> set[str]:
    """Names that ``source`` lists in ``__all__`` but imports from a rankiqa module outside
    ``home`` (its own package for an ``__init__``, else its parent package), plus ``*`` imports
    and ``sys.modules`` aliasing: each makes a second home for a name."""
    imported: dict[str, str] = {}
    exported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
            imported |= {alias.asname or alias.name: node.module for alias in node.names}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    exported |= {e.value for e in getattr(node.value, "elts", [])}
                if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "sys.modules":
                    exported.add("sys.modules")
    foreign = {n for n, m in imported.items() if m != home and not m.startswith(home + ".")}
    return (foreign & exported) | ({"*"} & foreign) | ({"sys.modules"} & exported)


def test_no_module_reexports_names_of_other_packages() -> None:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        module = module_name(path)
        home = module if is_package(path) else module.rpartition(".")[0]
        names = reexports(path.read_text(encoding="utf-8"), home)
        if names:
            found[module] = sorted(names)
    assert not found, found


@pytest.mark.parametrize(
    "source",
    [
        "from rankiqa.core.errors import UserError\n__all__ = ['UserError']\n",
        "from rankiqa.core.files import *\n",
        "import sys\nfrom rankiqa.core import errors\nsys.modules[__name__] = errors\n",
    ],
)
def test_reexport_checker_catches(source: str) -> None:
    assert reexports(source, "rankiqa.training")
