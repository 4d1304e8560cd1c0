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


# Layers, lowest first: a module may import its own layer and the layers below, never above.
# (A module's layer is that of its longest listed prefix.)
LAYERS: dict[str, int] = {
    "thresher": 0,  # the package's own version
    "thresher.errors": 0,
    "thresher.records": 0,
    "thresher.paths": 0,
    "thresher.progress": 0,
    "thresher.tags": 0,
    "thresher.worker": 0,  # whether this process is a Beam worker
    "thresher.warm_client": 0,  # a warm worker's command: the standard library only
    "thresher.construction": 0,  # Beam's graph construction, memoized: Beam only
    "thresher.allocator": 0,  # how worker processes use malloc: the standard library only
    "thresher.runners": 0,  # which Beam runners are local: the standard library only
    "thresher.core": 1,  # text logic: only records and errors below it
    "thresher.config": 2,  # the recipe
    "thresher.cores": 2,  # the machine's free cores, and the workers a recipe gets
    "thresher.schema": 3,
    "thresher.accounting": 3,
    "thresher.output": 3,  # layout, manifest, atomic I/O
    "thresher.report": 4,  # views rendered from a manifest
    "thresher.card": 4,
    "thresher.io": 4,
    "thresher.stages": 5,
    "thresher.pii": 5,
    "thresher.plan": 6,
    "thresher.pipeline": 6,
    "thresher.run": 7,  # commands
    "thresher.warm": 7,  # warm local workers for run and batched
    "thresher.batched": 7,  # batched local runs: run launches them, they finish through run
    "thresher.explain": 7,
    "thresher.forget": 7,
    "thresher.finetune": 7,
    "thresher.recipe_reference": 7,
    "thresher.export": 7,  # trainer formats from an output's data/
    "thresher.cli": 8,
}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _thresher_imports(path: Path) -> set[str]:
    return {n for n in _imports(path) if n == "thresher" or n.startswith("thresher.")}


def test_imports_point_down_the_layers():
    upward = sorted(
        f"{_module(p)} -> {name}"
        for p in SRC.rglob("*.py")
        for name in _thresher_imports(p)
        if _layer(name) > _layer(_module(p))
    )
    assert upward == [], "imports that point up the layers:\n" + "\n".join(upward)


def test_core_depends_only_on_records_and_errors():
    allowed = ("thresher.core", "thresher.records", "thresher.errors")
    outside = sorted(
        f"{_module(p)} -> {name}"
        for p in (SRC / "core").rglob("*.py")
        for name in _thresher_imports(p)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    )
    assert outside == []


def test_every_module_has_a_layer():
    # a new top-level module must be placed in LAYERS on purpose
    tops = {_module(p).split(".")[1] for p in SRC.rglob("*.py") if _module(p) != "thresher"}
    assert sorted(t for t in tops if f"thresher.{t}" not in LAYERS) == []
