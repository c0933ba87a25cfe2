"""The house's layout holds: imports flow one way, rooms import only what their floor allows.

These tests read the source (no import runs), so a circle or an upward import fails here before
it can fail at start-up. The floors, lowest first, are in ``FLOORS``; README "Layout" draws them.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "mappings"

# A module may import modules of its own floor or lower ones, never higher. Same-floor imports
# between rooms are allowed; the circle test keeps them from looping.
FLOORS = [
    # pure, no ORM, no I/O beyond their own concern
    ("mappings.engine", "mappings.platforms", "mappings.fake_braze", "mappings.encryption",
     "mappings.braze_endpoints", "mappings.roles", "mappings.startup_checks",
     "mappings.presets", "mappings.profile_cache", "mappings.periodic_jobs",
     "mappings.site_links", "mappings.row_insert"),
    ("mappings.models",),
    ("mappings.delivery",),
    ("mappings.ingest", "mappings.lookups", "mappings.canary", "mappings.alerts"),
    ("mappings.api", "mappings.log_pages", "mappings.admin", "mappings.management",
     "mappings.signals", "mappings.tasks", "mappings.apps", "mappings.templatetags"),
]  # fmt: skip

# Rooms that must stay apart from most of the house, whatever their floor.
ONLY_IMPORTS = {
    "mappings.engine": ("mappings.engine",),
    "mappings.platforms": ("mappings.platforms", "mappings.engine"),
    "mappings.fake_braze": ("mappings.fake_braze",),
    # Presets are data (YAML beside a small loader): nothing of the app.
    "mappings.presets": (),
    # The Braze client knows no models: only its own deadline watch, and the pure reading of
    # Braze's rate-limit headers (one reader for the outbox's retries and the client's answers).
    "mappings.delivery.braze": ("mappings.delivery.deadlines", "mappings.delivery.retry_policy"),
    "mappings.delivery.deadlines": (),
    # Models describe configuration as plain data: the engine's spec, never its runtime.
    "mappings.models": (
        "mappings.models", "mappings.engine.spec", "mappings.encryption",
        "mappings.braze_endpoints",
    ),
}  # fmt: skip

VIEWS = ("mappings.api.views", "mappings.log_pages.views", "mappings.admin")
BRAZE_CLIENT = "mappings.delivery.braze"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in APP.rglob("*.py")
        if "migrations" not in path.parts and "templates" not in path.parts
    }


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The app modules a file imports, at any depth of its code (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def floor_of(name: str) -> int:
    for level, rooms in enumerate(FLOORS):
        if any(within(name, room) for room in rooms):
            return level
    raise AssertionError(f"{name} is on no floor: add its room to FLOORS")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, found by a depth-first walk (each reported once per entry point)."""
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                found.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_the_graph_reader_sees_function_level_imports(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("def later():\n    from mappings.delivery import worker\n")
    assert imported_modules(source, {"mappings.delivery.worker"}) == {"mappings.delivery.worker"}


def test_the_circle_finder_finds_a_loop_of_three():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]


def test_the_app_has_no_import_circles():
    assert circles(import_graph()) == []


def test_no_import_runs_up_a_floor():
    upward = [
        f"{source} (floor {floor_of(source)}) imports {target} (floor {floor_of(target)})"
        for source, targets in import_graph().items()
        for target in targets
        if floor_of(target) > floor_of(source)
    ]
    assert upward == []


@pytest.mark.parametrize("room", sorted(ONLY_IMPORTS))
def test_a_kept_apart_room_imports_only_what_it_may(room):
    allowed = ONLY_IMPORTS[room]
    strays = [
        f"{source} imports {target}"
        for source, targets in import_graph().items()
        if within(source, room)
        for target in targets
        if not any(within(target, permitted) for permitted in allowed)
    ]
    assert strays == []


def test_views_never_import_the_braze_client():
    graph = import_graph()
    callers = [name for name in graph if any(within(name, view) for view in VIEWS)]
    assert callers, "the view modules moved: update VIEWS"
    assert [name for name in callers if BRAZE_CLIENT in graph[name]] == []


def test_no_source_file_is_over_500_lines():
    ignored = {".venv", ".git", "migrations", "node_modules"}
    long_files = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in ROOT.rglob("*.py")
        if not ignored & set(path.relative_to(ROOT).parts)
        and (lines := len(path.read_text().splitlines())) > 500
    ]
    assert long_files == []
