"""The package's import layers: no circles, no upward imports, a public API that imports.

Every module under ``tracker/`` is parsed with :mod:`ast` (imports inside functions and
``if TYPE_CHECKING:`` blocks count: a lazy import hides a circle, it does not remove it), the
import graph is built, and two rules are checked:

- no circles: the graph of tracker's own modules is acyclic;
- no upward imports: a module imports only from its own layer or the layers below it, in
  the order of :data:`LAYERS` (CONTRIBUTING.md explains each layer), and the screening
  pipeline knows nothing about files (:data:`FORBIDDEN`).

A new module must be placed in a layer here (the test names any that is not).
Known breaches are listed, each by its edge, in :data:`KNOWN_CIRCLES` and
:data:`KNOWN_UPWARD`; each has a strict expected-failure test, so removing the edge turns
that test red until its entry is deleted here.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from fnmatch import fnmatchcase
from pathlib import Path

import networkx as nx
import pytest

import tracker

PACKAGE = Path(tracker.__file__).resolve().parent

#: Lowest first.  Patterns are module names (``*`` matches within and below a package).
#: ``tracker`` itself is the package's ``__init__``: it imports nothing of tracker at import
#: time (its public names load lazily), so every module may read ``tracker.__version__``.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tracker", "tracker.demo", "tracker.redaction", "tracker.workbook", "tracker.graphxml",
     "tracker.dates", "tracker.home", "tracker.textfiles", "tracker.skipped"),
    ("tracker.records",),
    ("tracker.watchlists",),
    ("tracker.matching",),
    ("tracker.names", "tracker.names.*"),
    ("tracker.listsources", "tracker.listsources.*"),
    ("tracker.registry_versions",),
    ("tracker.risk",),
    ("tracker.findings",),
    ("tracker.frameworks",),
    ("tracker.sources", "tracker.sources.*", "tracker.resolution"),
    ("tracker.screening",),
    ("tracker.rosters",),
    ("tracker.graph",),
    ("tracker.report", "tracker.exports", "tracker.frames"),
    ("tracker.engine", "tracker.engine.*"),
    ("tracker.store",),
    ("tracker.reviews", "tracker.rescreen"),
    ("tracker.runs",),
    ("tracker.cli", "tracker.cli.*", "tracker.web", "tracker.web.*"),
)

#: Imports forbidden whatever the layers say: (importer, imported pattern, why).
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("tracker.screening", "tracker.sources.files",
     "screening takes works and settings; reading files is the caller's business"),
    ("tracker.screening", "tracker.sources.openalex", "screening must not fetch"),
)

#: Circles still in the tree: (module, module) -> who removes it.
KNOWN_CIRCLES: dict[tuple[str, str], str] = {}

#: Upward or forbidden imports still in the tree: (importer, imported) -> the reason.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom,
              known: set[str]) -> set[str]:
    """The tracker modules one import statement reaches."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if node.level:  # relative: resolve against the importing package
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = package[: len(package) - node.level + 1]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in known:  # `from tracker import graphxml` imports the module graphxml
            out.add(sub)
        elif target in known:
            out.add(target)
    return out


def import_graph() -> nx.DiGraph:
    """tracker's modules and the imports between them (every import statement, anywhere)."""
    modules = _modules()
    known = set(modules)
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(name, path, node, known):
                    if target != name:
                        g.add_edge(name, target)
    return g


def layer_of(module: str) -> int | None:
    for i, patterns in enumerate(LAYERS):
        if any(fnmatchcase(module, p) for p in patterns):
            return i
    return None


def _without_known(g: nx.DiGraph) -> nx.DiGraph:
    h = g.copy()
    for a, b in KNOWN_CIRCLES:
        for edge in ((a, b), (b, a)):
            if h.has_edge(*edge):
                h.remove_edge(*edge)
    h.remove_edges_from(KNOWN_UPWARD)
    return h


GRAPH = import_graph()


def test_the_parser_sees_lazy_and_type_checking_imports():
    # cache.py once imported transport inside a method; function bodies must count
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tracker.risk import X\n"
           "def f():\n    from tracker import graphxml\n    import tracker.records\n")
    found = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _imported("tracker.x", PACKAGE / "x.py", node, set(_modules()))
    assert found == {"tracker.risk", "tracker.graphxml", "tracker.records"}


def test_every_module_has_a_layer():
    assert [m for m in GRAPH if layer_of(m) is None] == []


def test_no_import_circles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(_without_known(GRAPH))
              if len(c) > 1]
    assert cycles == [], f"import circles: {cycles}"


def test_no_upward_or_forbidden_imports():
    bad = []
    for a, b in _without_known(GRAPH).edges:
        la, lb = layer_of(a), layer_of(b)
        if la is not None and lb is not None and lb > la:
            bad.append(f"{a} -> {b} (layer {la} imports layer {lb})")
        bad += [f"{a} -> {b}: {why}" for imp, pat, why in FORBIDDEN
                if a == imp and fnmatchcase(b, pat)]
    assert bad == []


@pytest.mark.parametrize("pair", [pytest.param(p, marks=pytest.mark.xfail(
    strict=True, reason=f"known circle: {why}")) for p, why in KNOWN_CIRCLES.items()],
    ids=[f"{a}<->{b}" for a, b in KNOWN_CIRCLES])
def test_known_circle_is_gone(pair):
    a, b = pair
    assert not (nx.has_path(GRAPH, a, b) and nx.has_path(GRAPH, b, a))


@pytest.mark.parametrize("edge", [pytest.param(e, marks=pytest.mark.xfail(
    strict=True, reason=f"known upward import: {why}")) for e, why in KNOWN_UPWARD.items()],
    ids=[f"{a}->{b}" for a, b in KNOWN_UPWARD])
def test_known_upward_import_is_gone(edge):
    assert not GRAPH.has_edge(*edge)


def test_the_rules_catch_a_circle_and_an_upward_import():
    g = GRAPH.copy()
    g.add_edge("tracker.records", "tracker.report")  # upward, and a circle via report
    up = [(a, b) for a, b in g.edges if (layer_of(b) or 0) > (layer_of(a) or 0)]
    assert ("tracker.records", "tracker.report") in up
    assert any(len(c) > 1 for c in nx.strongly_connected_components(_without_known(g)))


#: Public names that do not import yet: name -> why.
KNOWN_BROKEN_PUBLIC: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN_PUBLIC[n]))
    if n in KNOWN_BROKEN_PUBLIC else n for n in tracker.__all__])
def test_every_public_name_imports(name):
    module = importlib.import_module("tracker")
    assert getattr(module, name) is not None


#: Paths of one machine: a checkout elsewhere has none of them (/tmp is on every machine).
_MACHINE_PATH = re.compile(r"/(?:work|root)/|/home/[a-z]|/Users/[A-Za-z]|[A-Z]:\\Users")


def _tracked_files() -> list[Path]:
    repo = PACKAGE.parent
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True,
                             check=True, timeout=60).stdout.decode("utf-8")
        return [repo / name for name in out.split("\0") if name]
    except (OSError, subprocess.SubprocessError):  # not a git checkout: every file
        skip = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", "build"}
        return [p for p in repo.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(repo).parts)]


def test_no_absolute_machine_paths_in_the_repository():
    found = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (xlsx, gz)
            continue
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            if _MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()[:120]}")
    assert found == []


def test_the_machine_path_check_can_fail():
    assert _MACHINE_PATH.search("see " + "/work" + "/shared/data")
    assert _MACHINE_PATH.search("C:" + "\\Users\\me")
    assert not _MACHINE_PATH.search("../shared/data/openalex, https://ror.org/00wk2mp56")
