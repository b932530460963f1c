"""The server package has no import loops, and its layers import only downwards.

The graph is built from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` of a ``usage_collection`` module, resolved to the module it loads
(``from .. import limits`` is an import of ``usage_collection.limits``; ``from ..storage
import Storage`` of ``usage_collection.storage``). Three kinds are listed separately:

- module-level imports run when the module is imported: a loop among them is a module
  used half-initialised, so the test refuses any, and they must go down the layers;
- imports inside functions run when called: the sanctioned way for a lower layer to reach
  a higher one late (``extension.init_app`` mounting the routes and admin pages);
- imports under ``if TYPE_CHECKING:`` never run: they name a type for mypy only
  (``state.UsageState`` naming the assets the routes build).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "usage_collection"
ROOT = Path(__file__).resolve().parents[2] / "server" / PACKAGE

# The layers of README's "Development" section, top to bottom. A module-level import may go
# from a layer to its own or a lower one, never up. A module not listed is a failure (add it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("__init__", "app", "wsgi", "cli", "gunicorn_conf")),
    ("extension", ("extension",)),
    ("admin pages", ("admin",)),
    ("routes", ("routes",)),
    ("request checks", ("access", "limits", "security_headers")),
    ("app services", ("telemetry", "stats_payload")),
    ("state", ("state",)),
    ("engine", ("collectors", "data_tasks", "rollups", "usage_counters", "group_commit", "request_metrics",
                "system_metrics", "api_fields", "schema_check", "background",
                "bundle", "brython_precompile", "pyodide_snapshot", "client_wheel", "build_cache")),
    ("storage", ("storage",)),
    ("foundation", ("validation", "validation_fast", "report_v1", "errors", "settings", "setting_parsers", "timeutil",
                    "version", "report_types")),
]


@dataclass
class Graph:
    """Module-level and function-level imports between the package's own modules."""

    modules: set[str] = field(default_factory=set)
    module_level: dict[str, set[str]] = field(default_factory=dict)
    function_level: dict[str, set[str]] = field(default_factory=dict)
    type_only: dict[str, set[str]] = field(default_factory=dict)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build_graph(root: Path = ROOT) -> Graph:
    """Parse every module under ``root`` (the browser files under ``static/`` are not the
    server's modules: they run in Brython or Pyodide) and list its imports of the package."""
    graph = Graph()
    files = [path for path in sorted(root.rglob("*.py")) if "static" not in path.relative_to(root).parts]
    graph.modules = {module_name(path) for path in files}
    for path in files:
        name = module_name(path)
        is_package = path.name == "__init__.py"
        graph.module_level[name] = set()
        graph.function_level[name] = set()
        graph.type_only[name] = set()
        _collect(ast.parse(path.read_text(encoding="utf-8")), name, is_package, graph, kind="module")
    return graph


def _collect(node: ast.AST, name: str, is_package: bool, graph: Graph, *, kind: str) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            target = {"module": graph.module_level, "function": graph.function_level, "type": graph.type_only}[kind]
            target[name].update(_targets(child, name, is_package, graph.modules))
        child_kind = kind
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            child_kind = "function"
        elif isinstance(child, ast.If) and kind == "module" and _is_type_checking(child.test):
            for part in child.body:  # the else branch, if any, runs: it stays module-level
                _collect(ast.Module(body=[part], type_ignores=[]), name, is_package, graph, kind="type")
            for part in child.orelse:
                _collect(ast.Module(body=[part], type_ignores=[]), name, is_package, graph, kind=kind)
            continue
        _collect(child, name, is_package, graph, kind=child_kind)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package modules one import statement loads (a name imported from a package is the
    submodule when one has that name, else the package itself)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source not in modules:
        return set()
    found = set()
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        found.add(submodule if submodule in modules else source)
    return found


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None: a depth-first search."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {node: WHITE for node in edges}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt == node:
                continue  # a package importing its own name: not a loop
            if colour.get(nxt, BLACK) == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(edges):
        if colour[start] == WHITE:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def layer_of(module: str) -> int:
    """Index of the module's layer in ``LAYERS`` (0 = top), by its first name under the package."""
    top = module.split(".")[1] if "." in module else "__init__"
    for index, (_, names) in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module} is in no layer of LAYERS (tests/server/test_import_graph.py): add it "
                         f"there and to README's Development section")


def test_the_graph_sees_both_kinds_of_import() -> None:
    """The parser itself: known edges of each kind are found (a graph of nothing has no loop)."""
    graph = build_graph()
    assert "usage_collection.extension" in graph.modules
    assert "usage_collection.storage" in graph.module_level["usage_collection.extension"]
    assert "usage_collection.routes" in graph.function_level["usage_collection.extension"]
    assert "usage_collection.routes" not in graph.module_level["usage_collection.extension"]
    assert "usage_collection.state" in graph.type_only["usage_collection.stats_payload"]
    assert "usage_collection.state" not in graph.module_level["usage_collection.stats_payload"]


def test_find_cycle_names_the_loop() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_loop_among_module_level_imports() -> None:
    cycle = find_cycle(build_graph().module_level)
    assert cycle is None, "import loop among module-level imports: " + " -> ".join(cycle or [])


def test_module_level_imports_never_go_up_a_layer() -> None:
    graph = build_graph()
    wrong = sorted(f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
                   for source, targets in graph.module_level.items() for target in targets
                   if layer_of(target) < layer_of(source))
    assert not wrong, "imports up the layers:\n" + "\n".join(wrong)


def test_state_access_runs_nothing_of_routes_or_admin() -> None:
    """``state`` is what every route imports: it must not import them back, even late."""
    graph = build_graph()
    module = "usage_collection.state"
    assert not {target for target in graph.module_level[module] | graph.function_level[module]
                if target.startswith(("usage_collection.routes", "usage_collection.admin"))}
