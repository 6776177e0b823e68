"""The layers of docs/architecture.md hold: the import contracts (pyproject.toml, run by
`make lint`) pass, and fail on a planted import; no module imports itself through others; no
import is hidden in a function or behind TYPE_CHECKING to break a circle."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "sms_conformance"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the package in `tree`/src, with the contracts of `tree`/pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"),
                           "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree / "src" / "sms_conformance",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    result = _lint_imports(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_planted_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    """bad input: the model importing the CLI (a planted import); outcome: lint-imports fails,
    naming the import."""
    tree = _copy(tmp_path)
    errors = tree / "src" / "sms_conformance" / "model" / "errors.py"
    errors.write_text(errors.read_text(encoding="utf-8")
                      + "\nfrom sms_conformance.cli import exits  # planted\n", encoding="utf-8")
    result = _lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sms_conformance.model.errors -> sms_conformance.cli.exits" in result.stdout


def test_a_planted_import_of_one_platform_by_the_other_breaks_independence(
        tmp_path: Path) -> None:
    """bad input: the Jira connector importing ServiceNow's field map (a planted import);
    outcome: lint-imports fails on the independence contract."""
    tree = _copy(tmp_path)
    values = tree / "src" / "sms_conformance" / "connectors" / "jira" / "values.py"
    values.write_text(values.read_text(encoding="utf-8")
                      + "\nfrom sms_conformance.connectors.servicenow import fieldmap  # planted\n",
                      encoding="utf-8")
    result = _lint_imports(tree)
    assert result.returncode == 1
    assert "Platforms know nothing of each other BROKEN" in result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("sms_conformance", cache_dir=None)
    assert _cycles(graph) == []


def test_a_planted_circle_is_found(tmp_path: Path) -> None:
    """bad input: two modules importing each other (planted); outcome: the circle is found."""
    package = tmp_path / "planted"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from planted import b\n")
    (package / "b.py").write_text("from planted import a\n")
    (package / "c.py").write_text("from planted import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("planted", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert _cycles(graph) == [["planted.a", "planted.b"]]


def _hidden_imports(path: Path, base: Path = SRC) -> list[str]:
    """Imports of the package inside a function or under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inner = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        else:
            continue
        for imp in inner:
            names = ([imp.module or ""] if isinstance(imp, ast.ImportFrom)
                     else [a.name for a in imp.names])
            if any(name.startswith("sms_conformance") for name in names):
                hidden.append(f"{path.relative_to(base)}:{imp.lineno}")
    return hidden


def test_every_import_of_the_package_is_at_the_top_of_its_module() -> None:
    hidden = [spot for path in sorted(SRC.rglob("*.py")) for spot in _hidden_imports(path)]
    assert hidden == []


def test_a_planted_function_level_import_is_found(tmp_path: Path) -> None:
    """bad input: an import inside a function (planted); outcome: it is reported."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f() -> None:\n    from sms_conformance.cli import exits\n\n\n"
                       "if TYPE_CHECKING:\n    from sms_conformance.scan import scanner\n")
    assert _hidden_imports(planted, tmp_path) == ["planted.py:2", "planted.py:6"]
