"""The shape of the package: one installed namespace, imports that point one way, small files.

Installed, the project is the single package ``lstmrec`` (the repository's ``pipeline/`` with
``features/`` and ``models/`` as its subpackages). Inside it, rooms are layered: a module never
imports a module of a higher layer, not even inside a function, so the dependency graph has no
circle and a newcomer can read it bottom up.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"lstmrec": REPO / "pipeline", "lstmrec.features": REPO / "features",
           "lstmrec.models": REPO / "models"}  # fmt: skip

# Layer of each room, bottom up: a module may import its own layer and the ones below.
LAYERS = {
    "lstmrec.features": 0,
    "lstmrec.models": 0,
    "lstmrec": 1,  # the root leaves: manifest, config, bundle, phones, targets, featurize, ...
    "lstmrec.corpora": 2,
    "lstmrec.scoring": 3,
    "lstmrec.inference": 4,
    "lstmrec.training": 5,
    "lstmrec.api": 6,
    "lstmrec.jobs": 7,
    "lstmrec.bench": 7,
    "lstmrec.serve": 7,  # the HTTP server; Starlette and uvicorn are imported here only
    "lstmrec.cli": 8,  # dispatches every command, `lstmrec bench` and the Beam jobs included
}
# The package's own entry points stand above everything: ``import lstmrec`` fetches the API on
# first use, ``python -m lstmrec`` runs the command line.
ENTRY_POINTS = {"lstmrec", "lstmrec.__main__"}
TOP = max(LAYERS.values()) + 1
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _layer(module: str) -> int:
    return TOP if module in ENTRY_POINTS else LAYERS[_room(module)]


def _room(module: str) -> str:
    """The longest prefix of ``module`` that names a room in LAYERS."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no room")


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's own modules that ``path`` imports anywhere in its body."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("lstmrec"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lstmrec"):
            for alias in node.names:  # `from lstmrec.x import y` may import the module x.y
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in modules else node.module)
    out.discard("lstmrec")  # the package itself (``__version__``) comes before any submodule
    return out


def test_imports_point_one_way():
    modules = _modules()
    wrong = []
    for name, path in sorted(modules.items()):
        layer = _layer(name)
        for target in sorted(_imports(path, modules)):
            if _layer(target) > layer:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_no_import_circle_between_modules():
    modules = _modules()
    graph = {name: _imports(path, modules) & modules.keys() for name, path in modules.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        pytest.fail("import circle: " + " -> ".join(e.args[1]))


def test_files_and_functions_stay_small():
    too_long = []
    for path in sorted(_modules().values()):
        source = path.read_text(encoding="utf-8")
        if len(source.splitlines()) > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(REPO)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {n}")
    assert not too_long, "\n".join(too_long)


def test_every_module_is_in_a_room_of_the_wheel(tmp_path):
    """The built wheel installs exactly one top-level package, ``lstmrec``, with every module
    of the repository's packages and the resources, plus its dist-info."""
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--quiet", "--wheel-dir", str(tmp_path), str(REPO)],
            check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except subprocess.CalledProcessError as e:
        pytest.fail(f"pip wheel failed:\n{e.stderr[-2000:]}")
    (wheel,) = tmp_path.glob("lstmrec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and top - dist_info == {"lstmrec"}
    for name in _modules():
        path = name.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, name
    assert "lstmrec/resources/phones.60-48-39.map" in names
    resources = REPO / "pipeline" / "resources"  # the shipped models (resources/models) too
    for path in resources.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert f"lstmrec/resources/{path.relative_to(resources).as_posix()}" in names, path
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info.pop()}/entry_points.txt").decode()
    assert "lstmrec = lstmrec.cli.main:main" in entry_points


def test_import_lstmrec_is_light():
    """``import lstmrec`` loads no NumPy and none of its own submodules until the API is used."""
    code = (
        "import sys, lstmrec; "
        "print(sorted(m for m in sys.modules if m.startswith('lstmrec.') or m == 'numpy'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"
