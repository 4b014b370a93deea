"""The package's layers, read from its imports (every `import`, at the top or inside a function):

    backbones   imports backbones only (and core.progress, a leaf: the download's progress bar)
    core        imports core and backbones
    runs        imports core, backbones and runs
    video       a capability: imports core, backbones, runs and video
    feedforward, grid   capabilities too: core, backbones, runs and themselves
    cli, notebook   the faces: import the rest; nothing else imports them, nor one the other
    matplotlib, IPython, ipywidgets   only outside core and backbones

and no module imports another that (through any chain) imports it back: no circles. The
package's own __init__.py is its public face and is left out (it loads names lazily).
"""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nst_helpers"
SCREEN = ("matplotlib", "IPython", "ipywidgets")
ALLOWED = {  # layer -> the layers it may import
    "backbones": {"backbones", "core.progress"},
    "core": {"core", "backbones"},
    "runs": {"core", "backbones", "runs"},
    "video": {"core", "backbones", "runs", "video"},   # a capability over the core (video/)
    "feedforward": {"core", "backbones", "runs", "feedforward"},   # real-time style transfer
    "grid": {"core", "backbones", "runs", "grid"},     # a capability over the core (grid/)
    "cli": {"core", "backbones", "runs", "video", "feedforward", "grid", "cli"},
    "notebook": {"core", "backbones", "runs", "video", "feedforward", "grid", "notebook"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    """Every module `path` imports (absolute names; `from .x import y` -> the package's x, or x.y
    when y is a submodule)."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            out.append(base)
            out += [f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")]
    return out


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports}, for every module but the top __init__."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py" or path == PACKAGE / "__main__.py":
            continue
        name = module_name(path)
        # a package that holds the importer is already being imported: no edge (Python runs it first)
        out[name] = {m for m in imports(path) if m.startswith("nst_helpers.") and _is_module(m)
                     and not name.startswith(m + ".")}
    return out


def layer(module: str) -> str:
    """'nst_helpers.core.transfer' -> 'core'; a module at the package's top is its own layer."""
    return module.split(".")[1]


def allowed(importer: str, imported: str) -> bool:
    target = imported.removeprefix("nst_helpers.")
    return any(target == a or target.startswith(a + ".") for a in ALLOWED[layer(importer)])


def test_every_module_belongs_to_a_layer():
    assert {layer(m) for m in graph()} <= set(ALLOWED), sorted({layer(m) for m in graph()})


def test_each_layer_imports_only_what_it_may():
    wrong = [f"{a} imports {b}" for a, targets in graph().items() for b in sorted(targets) if not allowed(a, b)]
    assert not wrong, "\n".join(wrong)


def test_nothing_draws_below_the_faces_and_runs():
    wrong = []
    for path in [*PACKAGE.joinpath("core").rglob("*.py"), *PACKAGE.joinpath("backbones").rglob("*.py")]:
        wrong += [f"{module_name(path)} imports {m}" for m in imports(path) if m.split(".")[0] in SCREEN]
    assert not wrong, "\n".join(wrong)


def test_there_are_no_import_circles():
    g = graph()
    circles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(g[node]):
            if target not in g or target == node:
                continue
            if state.get(target) == "open":
                circles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for start in sorted(g):
        if start not in state:
            visit(start, [start])
    assert not circles, "\n".join(circles)


def test_the_finder_sees_a_circle_and_a_wrong_import(tmp_path, monkeypatch):
    """The checks above can fail: a toy package with a circle and an upward import."""
    pkg = tmp_path / "nst_helpers"
    for sub, text in {"core/a.py": "from ..runs import b\n", "runs/b.py": "from ..core import a\nimport matplotlib\n",
                      "core/__init__.py": "", "runs/__init__.py": "", "__init__.py": ""}.items():
        (pkg / sub).parent.mkdir(parents=True, exist_ok=True)
        (pkg / sub).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    g = graph()
    assert "nst_helpers.runs.b" in g["nst_helpers.core.a"] and "nst_helpers.core.a" in g["nst_helpers.runs.b"]
    assert not allowed("nst_helpers.core.a", "nst_helpers.runs.b")
    try:
        test_there_are_no_import_circles()
    except AssertionError as err:
        assert "nst_helpers.core.a -> nst_helpers.runs.b -> nst_helpers.core.a" in str(err)
    else:
        raise AssertionError("the circle was not found")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout
    return set(out.split())


def test_the_core_loads_no_screen_and_the_config_no_torch():
    loaded = _loaded_after("import nst_helpers.core.transfer, nst_helpers.runs.checkpoint")
    assert not {m.split(".")[0] for m in loaded} & set(SCREEN), sorted(m for m in loaded if m.split(".")[0] in SCREEN)
    assert "torch" not in _loaded_after("import nst_helpers.core.config, nst_helpers.core.plan")


def test_the_command_line_answers_help_without_torch():
    loaded = _loaded_after("import nst_helpers.cli; from nst_helpers.cli.args import build_parser; build_parser().format_help()")
    assert "torch" not in loaded and "numpy" not in loaded


def test_the_public_api_still_answers():
    loaded = _loaded_after("from nst_helpers import preset, run, save_run, resume, load_run, StyleConfig, PRESETS, "
                           "TransferResult; from nst_helpers.backbones import load_backbone, resolve_layers")
    assert "nst_helpers.core.transfer" in loaded and "nst_helpers.runs.checkpoint" in loaded
