"""The house has one direction (app/domains.py): a domain imports `core`, the registries and the domains
before it in the method's order, never a later one; imports inside functions say why."""

from __future__ import annotations

import ast
from pathlib import Path

from app.domains import METHOD_ORDER, REGISTRIES

APP = Path(__file__).resolve().parents[1] / "app"
LAYERS = (*REGISTRIES, *METHOD_ORDER)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _module_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of the `app.` imports that run when the module is imported."""
    found: list[tuple[int, str]] = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("app."):
                found.append((sub.lineno, sub.module))
            elif isinstance(sub, ast.Import):
                found += [(sub.lineno, a.name) for a in sub.names if a.name.startswith("app.")]
    return found


def _package(path: Path) -> str | None:
    rel = path.relative_to(APP).parts
    return rel[0] if len(rel) > 1 else None


def test_domains_import_only_earlier_layers() -> None:
    wrong = []
    for path in sorted(APP.rglob("*.py")):
        pkg = _package(path)
        if pkg not in LAYERS:
            continue
        # registries use each other (auth reads users, users belong to departments); a domain uses them and
        # the domains before it
        allowed = set(REGISTRIES) | set(METHOD_ORDER[: METHOD_ORDER.index(pkg) + 1] if pkg in METHOD_ORDER else ())
        for line, module in _module_imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = module.split(".")[1]
            if target in LAYERS and target not in allowed:
                wrong.append(f"{path.relative_to(APP.parent)}:{line} imports {module}")
    assert wrong == [], "a domain imports a later one:\n" + "\n".join(wrong)


def test_every_layer_is_listed() -> None:
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - {"translations", "demo"} == set(LAYERS)  # demo data spans the domains


def _explained(lines: list[str], index: int) -> bool:
    """A comment on the import's line, or on the line above its block of imports."""
    if "#" in lines[index]:
        return True
    while index > 0 and lines[index - 1].strip().startswith(("from ", "import ")):
        index -= 1
    return lines[index - 1].strip().startswith("#")


def test_imports_inside_functions_say_why() -> None:
    silent = []
    for path in sorted(APP.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and not _explained(lines, sub.lineno - 1):
                    silent.append(f"{path.relative_to(APP.parent)}:{sub.lineno}")
    assert silent == [], "imports inside functions without a reason:\n" + "\n".join(sorted(set(silent)))
