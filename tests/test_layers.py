"""The layer contract: top-level packages import only the layers below them, never above, never in a circle.

Every `.py` of the product packages is read with `ast` (not imported), so imports inside functions count,
and so do import paths written as strings (`uvicorn.run("api.main:app")`, `importlib.import_module(...)`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> the first-party packages it may import besides itself (README "Where things live")
ALLOWED: dict[str, frozenset[str]] = {
    "crm": frozenset(),
    "models_ml": frozenset({"crm"}),
    "serving": frozenset({"crm"}),
    "pipelines": frozenset({"crm", "models_ml", "serving"}),
    "api": frozenset({"crm", "models_ml", "serving"}),
    "dashboards": frozenset({"crm", "models_ml", "serving"}),
    "app": frozenset({"crm", "models_ml", "serving", "pipelines", "api", "dashboards"}),
}
PACKAGES = frozenset(ALLOWED)
# "api.main:app", "app.cli.http_protocol:SlowClientGuard": a dotted path or a module:attribute target
_IMPORT_STRING = re.compile(r"^([a-z_]+)(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?$")


def imported_packages(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, first-party top-level package) for every absolute import and import-path string in a module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _IMPORT_STRING.match(node.value)
            if match and ("." in node.value or ":" in node.value):  # a bare word ("crm") is a name, not a path
                found.append((node.lineno, match.group(1)))
    return [(line, package) for line, package in found if package in PACKAGES]


def violations(root: Path = ROOT) -> list[str]:
    out = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, package in imported_packages(tree):
                if package != layer and package not in allowed:
                    out.append(f"{path.relative_to(root)}:{line} imports {package} "
                               f"(layer {layer} may not import layer {package})")
    return out


def test_every_layer_imports_only_the_layers_below_it():
    found = violations()
    assert not found, "imports against the layer map:\n" + "\n".join(found)


def test_every_product_package_exists():
    """A renamed package would make the walk above silently check nothing."""
    missing = [p for p in PACKAGES if not (ROOT / p / "__init__.py").is_file()]
    assert not missing, f"product packages missing: {missing}"


def test_the_walk_sees_imports_in_functions_and_import_strings():
    tree = ast.parse("def f():\n    import api.deps\n    from dashboards import app\n"
                     "uvicorn.run('api.main:app', http='app.cli.http_protocol:SlowClientGuard')\n"
                     "x = 'not an import: crm'\n")
    assert sorted(imported_packages(tree)) == [(2, "api"), (3, "dashboards"), (4, "api"), (4, "app")]


def test_dbt_folder_holds_no_python():
    """A `.py` in dbt/ would shadow the installed dbt package (STACK_NOTES)."""
    assert not list((ROOT / "dbt").rglob("*.py"))
