"""The house rules of the code base: imports point one way with no cycles, every module says what it is for, ruff is
clean. The import rules read the source (every import, function-level ones included), so a cycle hidden inside a
function still fails here."""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Each package may import only from its own package and from lower layers. finetune sits beside judge: both build on
# models, neither on the other. lab (judging the judges: validation, distillation, the trust line) sits above runs:
# it reads runs and their votes and reuses the judge cache, while runs/ holds one run and needs none of it. evals
# (suites run as unit tests, the gate against the last good run) sits beside lab: it drives runs and reads their
# folders, and neither of the two needs the other. arena (blind battles, their store and leaderboard) sits beside
# them too: it drives runs for the judge's verdicts and reads analysis' statistics, and only ui imports it.
# Entry points (app.py and every __main__.py) are above everything.
LAYERS = {"basics": 0, "models": 1, "judge": 2, "finetune": 2, "analysis": 3, "runs": 4, "lab": 5, "evals": 5,
          "arena": 5, "dashboard": 6, "ui": 7, "app": 8}
ENTRY_LAYER = 8
MAX_MODULE_LINES = 420


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every first-party module (tests and benchmarks are not part of the layers)."""
    modules = {}
    for top in LAYERS:
        single = REPO_ROOT / f"{top}.py"
        if single.is_file():
            modules[top] = single
        for path in sorted((REPO_ROOT / top).rglob("*.py")) if (REPO_ROOT / top).is_dir() else []:
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(path: Path, known: dict[str, Path]) -> set[str]:
    """First-party modules `path` imports anywhere in its body; `from pkg import sub` counts pkg.sub if it is one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def layer_of(module: str, path: Path) -> int:
    return ENTRY_LAYER if path.name == "__main__.py" else LAYERS[module.split(".")[0]]


def import_graph() -> tuple[dict[str, Path], dict[str, set[str]]]:
    modules = project_modules()
    return modules, {name: imported_modules(path, modules) for name, path in modules.items()}


def upward_imports(modules: dict[str, Path], graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in graph.items():
        own_package, own_layer = module.split(".")[0], layer_of(module, modules[module])
        for target in sorted(targets):
            package = target.split(".")[0]
            if package != own_package and LAYERS[package] >= own_layer:
                problems.append(f"{module} imports {target} ({package} is not below {own_package})")
    return problems


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (each reported once, from where the walk met it)."""
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return cycles


def test_every_package_is_covered_by_the_layers():
    packages = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYERS), f"add these packages to LAYERS: {sorted(packages - set(LAYERS))}"


def test_dependencies_point_one_way():
    """basics ← models ← judge ← analysis ← runs ← lab ← dashboard ← ui (finetune uses models)."""
    assert upward_imports(*import_graph()) == []


def test_there_are_no_import_cycles_not_even_inside_functions():
    _, graph = import_graph()
    assert import_cycles(graph) == []


def unresolved_imports(modules: dict[str, Path], files: list[Path]) -> list[str]:
    """First-party imports in `files` that name no module or package of the project (a module moved or removed whose
    importer was missed: the layer checks above skip names they do not know, so it would pass them)."""
    problems = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path.name
            problems += [f"{where} imports {name}" for name in names
                         if name.split(".")[0] in LAYERS and name not in modules]
    return problems


def test_every_first_party_import_names_a_module_that_exists():
    modules = project_modules()
    files = [*modules.values(), *(REPO_ROOT / "tests").rglob("*.py"), *(REPO_ROOT / "benchmarks").rglob("*.py"),
             *(REPO_ROOT / "recipes").rglob("*.py")]
    assert unresolved_imports(modules, files) == []


def test_a_stale_import_is_caught(tmp_path):
    stale = tmp_path / "stale.py"
    stale.write_text("import os\nfrom runs.no_such_module import x\nfrom runs.views import total_cell\n")
    assert unresolved_imports(project_modules(), [stale]) == ["stale.py imports runs.no_such_module"]


def test_the_checks_catch_an_upward_import_and_a_hidden_cycle():
    """The two rules above on a made-up graph: they must be able to fail."""
    fake = {"judge.x": Path("judge/x.py"), "runs.y": Path("runs/y.py"), "finetune.a": Path("finetune/a.py"),
            "finetune.b": Path("finetune/b.py"), "judge.__main__": Path("judge/__main__.py")}
    graph = {"judge.x": {"runs.y"}, "runs.y": set(), "finetune.a": {"finetune.b"}, "finetune.b": {"finetune.a"},
             "judge.__main__": {"runs.y"}}
    assert upward_imports(fake, graph) == ["judge.x imports runs.y (runs is not below judge)"]
    assert import_cycles(graph) == [["finetune.a", "finetune.b", "finetune.a"]]


def test_every_module_starts_with_a_docstring_and_stays_small():
    modules = project_modules()
    missing = [name for name, path in modules.items()
               if path.stat().st_size and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert missing == [], "each module says what it is for in a docstring"
    big = {name: n for name, path in modules.items()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert big == {}, f"split modules over {MAX_MODULE_LINES} lines"


def test_test_files_stay_small():
    big = {str(p.relative_to(REPO_ROOT)): n for p in (REPO_ROOT / "tests").rglob("test_*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert big == {}


def test_test_file_names_are_unique():
    """The test folders are not packages: pytest imports two test files of one name as one module and stops with
    "import file mismatch" (tests/arena/test_config.py beside tests/finetune/test_config.py did)."""
    names = [p.name for p in (REPO_ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.fail("ruff is missing: `pip install -r requirements-dev.txt` installs it")
    done = subprocess.run([ruff, "check", "."], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
