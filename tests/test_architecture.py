"""Structural rules from STYLE.md that code review alone would let slip."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thresher"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_beam():
    offenders = [
        str(p.relative_to(SRC))
        for p in (SRC / "core").rglob("*.py")
        if any(n == "apache_beam" or n.startswith("apache_beam.") for n in _imports(p))
    ]
    assert offenders == []


def test_no_assert_statements_in_library_code():
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(p.read_text())))
    ]
    assert offenders == []


def test_no_module_too_large():
    big = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.stat().st_size > 60_000]
    assert big == []
