"""The one import direction of docs/architecture.md: a module imports only from its own or
lower layers, not even inside a function (checked on the AST of every module)."""

from __future__ import annotations

import ast
from pathlib import Path

import gdfnn

PACKAGE = Path(gdfnn.__file__).parent

#: layer of each top-level module or subpackage of gdfnn, bottom (0) to top
LAYERS = {
    "units": 0, "errors": 0, "fileio": 0, "neighbors": 0, "analysis": 0, "datasets": 0,
    "data": 1,
    "descriptors": 2,
    "gdf": 3,
    "model": 4,
    "training": 5,
    "export": 6, "calculator": 6, "reference": 6,
    "config": 7,
    "workflows": 8,
    "experiments": 9,
    "cli": 10, "__main__": 10, "__init__": 10,
}


def component(module: str) -> str:
    """``gdfnn.model.potential`` -> ``model``; ``gdfnn`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def gdfnn_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported gdfnn module) of every import statement, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("gdfnn")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.startswith("gdfnn"):
            if node.module == "gdfnn":  # from gdfnn import x: x is a submodule or a facade name
                found += [(node.lineno, f"gdfnn.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_every_module_has_a_layer():
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        assert name in LAYERS, f"{path}: add {name!r} to LAYERS (and to docs/architecture.md)"


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for line, module in gdfnn_imports(path):
            target = component(module)
            if target not in LAYERS:  # a facade name such as gdfnn.train: the top layer
                target = "__init__"
            if LAYERS[target] > LAYERS[own]:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} ({own}, layer {LAYERS[own]}) "
                              f"imports {module} ({target}, layer {LAYERS[target]})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from gdfnn.workflows.train import train\n")
    assert gdfnn_imports(source) == [(2, "gdfnn.workflows.train")]
