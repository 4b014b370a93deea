"""A grid: the product of lists (contents, styles, presets, config overrides, seeds), in Python
or a small YAML/JSON file, expanded into named cells, each one run's config.

    name: sweep                        # outputs/<name>/<cell>/ (default: the file's stem)
    contents: [images/content.jpg]     # paths relative to the grid file
    styles: [images/style.jpg]
    presets: [baseline]                # default [fast]
    recipe: fast                       # optional: the presets' weights with the fast recipe (as the notebooks)
    base: {size: 256, steps: 40}       # config fields for every cell
    axes:                              # config fields swept: a list, or {label: value}
      style_weight: [1e5, 1e6]
      style_layers: {early: {conv1_1: 1.5, conv2_1: 1.2}, deep: {conv4_1: 1, conv5_1: 1}}
    seeds: [0, 1]                      # optional
    sheet: {rows: style_weight, columns: style_layers}

A cell's name joins the axes that have more than one value (`style_weight-1e5__style_layers-early`),
so it is the same whichever machine runs it: a rerun finds its finished cells by name.
Everything is checked before anything runs: an unknown field, an empty axis, a bad value.
"""
import dataclasses
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import PRESETS, StyleConfig, folder_name_problem, preset, with_fast_recipe
from ..runs import user_files

FIELDS = ("name", "contents", "styles", "presets", "recipe", "base", "axes", "seeds", "sheet", "device")
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(StyleConfig) if f.name != "name")
RECIPES = (None, "fast")
MAX_CELLS = 10_000   # runs in one grid: even at seconds a cell, more is days (324 million hung, memory growing)
DEVICES = r"cpu|cuda(:[0-9]+)?|mps"   # whether this machine has it: grid/cluster.py, before a LocalCluster starts


class GridError(ValueError):
    """A grid that cannot run, said as `<what>; <how to fix it>`."""


@dataclass
class Cell:
    """One run of the grid: its folder name, its value on every axis, the config and images."""

    name: str
    labels: dict          # axis -> the value's label, every axis (one-valued ones too)
    config: StyleConfig
    content: Path
    style: Path


@dataclass
class Grid:
    name: str
    contents: list
    styles: list
    presets: list = field(default_factory=lambda: ["fast"])
    recipe: str | None = None
    base: dict = field(default_factory=dict)
    axes: dict = field(default_factory=dict)
    seeds: list | None = None
    sheet: dict = field(default_factory=dict)
    device: str | None = None   # None: the best each worker has; "cuda": a task asks for a GPU resource
    root: Path = field(default_factory=Path.cwd)   # where relative image paths start
    labels: dict = field(default_factory=dict)     # extra metadata for every cell's config.json (Python only)

    def dimensions(self) -> dict:
        """{axis: {label: value}} of every axis, in order: content, style, preset, the overrides, seed."""
        dims = {"content": _labelled([self.root / p for p in self.contents], "contents"),
                "style": _labelled([self.root / p for p in self.styles], "styles"),
                "preset": _labelled(self.presets, "presets")}
        for axis, values in self.axes.items():
            dims[axis] = _labelled(values, f"axes.{axis}")
        if self.seeds is not None:
            dims["seed"] = _labelled(self.seeds, "seeds")
        return dims

    def cells(self) -> list[Cell]:
        """Every cell, checked: its config validated, names unique."""
        check(self)
        dims = self.dimensions()
        if (count := math.prod(len(v) for v in dims.values())) > MAX_CELLS:   # each cell a run: before expanding
            sizes = " x ".join(f"{len(v)} {a}" for a, v in dims.items() if len(v) > 1)
            raise GridError(f"the grid has {count:,} cells ({sizes}), more than the {MAX_CELLS:,} one grid runs; "
                            "shorten its axes or split it into several grids")
        varying = [a for a, v in dims.items() if len(v) > 1]
        out = []
        for combo in itertools.product(*(list(v.items()) for v in dims.values())):
            labels = {axis: label for axis, (label, _) in zip(dims, combo)}
            values = {axis: value for axis, (_, value) in zip(dims, combo)}
            name = "__".join(f"{a}-{labels[a]}" for a in varying or ["preset"])
            out.append(Cell(name, labels, self._config(values, name), Path(values["content"]), Path(values["style"])))
        return out

    def _config(self, values: dict, cell: str) -> StyleConfig:
        over = {**self.base, **{a: values[a] for a in self.axes}}
        if "seed" in values:
            over["seed"] = values["seed"]
        try:
            if self.recipe == "fast":   # as notebook.settings: the preset's weights, the fast recipe
                return with_fast_recipe(preset(values["preset"], backbone=over.get("backbone", "auto")), **over)
            return preset(values["preset"], **over)
        except (ValueError, TypeError) as err:
            raise GridError(f"cell {cell}: {err}; fix that value in the grid") from None


def _label(value) -> str:
    if isinstance(value, Path):
        return value.stem
    if isinstance(value, float) and value and not 1e-3 <= abs(value) < 1e4:   # 1e5, 2.5e6: as weights are written
        mantissa, exponent = f"{value:.3e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", label).strip("_") or "_"


def _labelled(values, where: str) -> dict:
    """{label: value} of an axis given as a list or a {label: value} mapping; labels safe as folder names."""
    if isinstance(values, dict):
        pairs = [(str(k), v) for k, v in values.items()]
    elif isinstance(values, (list, tuple)):
        pairs = [(_label(v) if not isinstance(v, dict) else json.dumps(v, sort_keys=True), v) for v in values]
    else:
        raise GridError(f"{where} must be a list (or a mapping label: value), got {values!r}; write it as [a, b]")
    if not pairs:
        raise GridError(f"{where} is empty; give it at least one value")
    out = {}
    for label, value in pairs:
        safe = _safe(label)
        if safe in out:
            raise GridError(f"{where} has two values labelled {safe!r}; give them distinct labels "
                            "({label: value, ...})")
        out[safe] = value
    return out


def check(grid: Grid) -> None:
    """Refuse a grid that cannot run, before anything starts."""
    if problem := folder_name_problem(grid.name):   # the one rule for names that become folders (core/config.py)
        raise GridError(f"the grid's name {problem}")
    if _safe(grid.name) != grid.name:
        raise GridError(f"the grid's name {grid.name!r} is not a plain folder name; use letters, digits, '.', '-', '+'")
    if grid.device is not None and not (isinstance(grid.device, str) and re.fullmatch(DEVICES, grid.device)):
        raise GridError(f"device {grid.device!r} is not a device name; use cpu, cuda, cuda:N or mps, or leave device "
                        "out for the best each worker has")
    if grid.recipe not in RECIPES:
        raise GridError(f"recipe {grid.recipe!r} is not known; use fast, or leave it out for the presets as they are")
    for key in ("base", "axes", "sheet", "labels"):
        if not isinstance(getattr(grid, key), dict):
            raise GridError(f"{key} must be a mapping (field: value), got {getattr(grid, key)!r}")
    for where, mapping in (("base", grid.base), ("axes", grid.axes)):
        if unknown := sorted(set(mapping) - set(CONFIG_FIELDS)):
            raise GridError(f"unknown config field(s) {unknown} in {where}; known fields: {', '.join(CONFIG_FIELDS)}")
    if both := sorted(set(grid.base) & set(grid.axes)):
        raise GridError(f"{both} given in both base and axes; keep each field in one of them")
    for name in grid.presets:
        if name not in PRESETS:
            raise GridError(f"unknown preset {name!r} in presets; choose from {', '.join(PRESETS)}")
    dims = grid.dimensions()
    for path in (*dims["content"].values(), *dims["style"].values()):
        if not Path(path).is_file():
            raise GridError(f"{path}: no such image file; paths in a grid file start at the file's folder")
    for key in ("rows", "columns"):
        if key in grid.sheet and grid.sheet[key] not in dims:
            raise GridError(f"sheet.{key} {grid.sheet[key]!r} is not an axis; choose from {', '.join(dims)}")
    if unknown := sorted(set(grid.sheet) - {"rows", "columns"}):
        raise GridError(f"unknown field(s) {unknown} in sheet; it takes rows and columns")


def from_dict(data, root=".", default_name: str = "grid") -> Grid:
    """A Grid from a mapping (a parsed file); unknown fields are refused by name."""
    if not isinstance(data, dict):
        raise GridError(f"a grid must be a mapping (field: value), got {type(data).__name__}; see nst_helpers/grid/spec.py")
    if unknown := sorted(set(data) - set(FIELDS)):
        raise GridError(f"unknown field(s) {unknown} in the grid; known fields: {', '.join(FIELDS)}")
    for key in ("contents", "styles"):
        if key not in data:
            raise GridError(f"the grid has no {key}; give a list of image paths, e.g. {key}: [images/{key[:-1]}.jpg]")
    grid = Grid(root=Path(root), **{"name": default_name, **data})
    grid.cells()   # checked now: every config, every name
    return grid


def load(path) -> Grid:
    """A Grid from a .yaml/.yml (PyYAML) or .json file; relative image paths start at the file's folder."""
    path = Path(path)
    try:
        text = user_files.read_text(path)   # a regular file of at most 1 MiB: a FIFO hung, /dev/zero grew memory
    except user_files.NotASettingsFile as err:
        raise GridError(f"the grid file {path} {err}; give the path of a .yaml or .json grid file") from None
    except UnicodeDecodeError:
        raise GridError(f"the grid file {path} is not text (UTF-8); give a .yaml or .json grid file") from None
    except OSError as err:
        raise GridError(f"cannot read the grid file {path}: {err.strerror}; check the path") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml
        try:
            data = yaml_load(text)
        except yaml.YAMLError as err:
            raise GridError(f"{path} is not valid YAML: {' '.join(str(err).split())}; fix that spot") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise GridError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}; fix that spot") from None
    return from_dict(data, path.parent, path.stem)


def yaml_load(text: str):
    """yaml.safe_load, with 1e6 read as a number: PyYAML follows YAML 1.1, where a float needs a dot
    and a signed exponent (1.0e+6), and a style weight written 1e6 would arrive as a string."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
        r"^[-+]?(?:[0-9][0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.inf|\.nan)$"),
        list("-+0123456789."))
    return yaml.load(text, Loader=Loader)
