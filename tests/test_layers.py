"""The package's layering: every import runs down the floors below, and no import circle exists.

The import graph is read from the source (``ast``), module by module, with the imports inside
functions and under ``TYPE_CHECKING`` counted too: a lazy import is still a dependency. A package's
``__init__`` that only lists lazy exports (``sndiag._lazy.lazy_exports``) depends on nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sndiag"

#: Floors, bottom up; a module may import from its own floor or any floor below, never above.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("sndiag._lazy", "sndiag.errors", "sndiag._kernels", "sndiag.io", "sndiag.data",
     "sndiag.ranges", "sndiag.text"),  # io: lazy
    ("sndiag.config",),
    ("sndiag.settings", "sndiag.images", "sndiag.spectrogram", "sndiag.memory",
     "sndiag.clip_array"),
    ("sndiag.dataset", "sndiag.io.atomic"),
    ("sndiag.stats", "sndiag.diagnostics", "sndiag.drift", "sndiag.io.zips", "sndiag.io.audio",
     "sndiag.io.labels", "sndiag.io.arrays", "sndiag.io.feature_cache", "sndiag.io.patterns"),
    ("sndiag.io.streaming", "sndiag.io.clips", "sndiag.masks", "sndiag.scalers"),
    ("sndiag.io.dispatch", "sndiag.io.uploads", "sndiag.effects", "sndiag.experiment",
     "sndiag.export", "sndiag.demo", "sndiag.store", "sndiag.auth", "sndiag.precompile"),
    ("sndiag.distributed", "sndiag.figures", "sndiag.report"),
    ("sndiag.cli",),
    ("sndiag.ui",),
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """sndiag modules imported by ``name`` (``from sndiag.x import y`` counts ``sndiag.x.y`` when
    that is a module, else ``sndiag.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("sndiag"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("sndiag"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    out.discard(name)
    return {m for m in out if m in known}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def _floor(module: str) -> int:
    for i, floor in enumerate(FLOORS):
        if module in floor:
            return i
    for i, floor in enumerate(FLOORS):
        if any(module.startswith(f + ".") for f in floor if f != "sndiag.io"):
            return i
    raise AssertionError(f"{module} is on no floor; add it to FLOORS")


def test_every_module_has_a_floor() -> None:
    for module in _modules():
        if module != "sndiag":
            _floor(module)


def test_no_import_runs_back_up() -> None:
    bad = [f"{a} (floor {_floor(a)}) imports {b} (floor {_floor(b)})"
           for a, deps in _graph().items() if a != "sndiag"
           for b in sorted(deps) if b != "sndiag" and _floor(b) > _floor(a)]
    assert not bad, "\n".join(bad)


def test_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("package", ["sndiag", "sndiag.io", "sndiag.distributed"])
def test_lazy_packages_import_nothing_eagerly(package: str) -> None:
    assert _graph()[package] <= {"sndiag._lazy"}


def test_only_settings_reads_the_environment() -> None:
    readers = sorted(name for name, path in _modules().items()
                     if "os.environ" in path.read_text(encoding="utf-8")
                     and name != "sndiag.settings")
    assert readers == []


def test_the_check_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """An import inside a function (the old ``Dataset.load`` -> ingest arrow) is seen."""
    src = tmp_path / "dataset.py"
    src.write_text("from .config import SpectrogramConfig\n"
                   "def load(path):\n    from sndiag.io.clips import from_files\n")
    deps = _imports("sndiag.dataset", src, set(_modules()))
    assert deps == {"sndiag.config", "sndiag.io.clips"}
    assert _floor("sndiag.io.clips") > _floor("sndiag.dataset")
