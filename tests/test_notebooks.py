"""The notebook suite's shape (what nbval cannot check) and the helpers the notebooks lean on:
settings and smoke mode, re-using runs, the observation verdicts, the live loss plot."""
import ast
import json
import re
from pathlib import Path

import nbformat
import torch
import pytest

from nst_helpers.notebook import compare as experiments
from nst_helpers.notebook import execute, live
from nst_helpers import notebook
from nst_helpers.core.config import preset
from nst_helpers.runs import metrics

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"
NUMBERS = "smoke-numbers"   # a checked cell whose output is the smoke run's numbers (tools/record_checked_outputs.py)
MAX_LINES = 15


def test_the_suite_is_there():
    names = {p.stem for p in NOTEBOOKS}
    assert set(execute.NOTEBOOKS) <= names


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return request.param, nbformat.read(request.param, as_version=4)


def code_cells(book):
    return [c for c in book.cells if c.cell_type == "code"]


def test_small_with_kernelspec_and_a_lesson_first(nb):
    path, book = nb
    assert path.stat().st_size < 1_000_000
    assert book.metadata["kernelspec"]["name"] == "python3"
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
    nbformat.validate(book)


def test_opens_unmodified_in_jupyterlab(nb):
    """JupyterLab copies the kernelspec and language_info of the kernel it starts into the notebook
    and marks it modified when they differ (seen in Chromium: "Python 3 (nst)" became "Python 3
    (ipykernel)", the plain ipykernel kernel's name). So a notebook stores what ipykernel's kernel
    writes (the Makefile installs the kernel under the same name), in the nbformat version
    nbformat writes, with an id on every cell. language_info's "version" is the kernel's Python
    and cannot match every Python; the rest must."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import get_kernel_dict
    path, book = nb
    spec = get_kernel_dict()
    assert dict(book.metadata.kernelspec) == {"display_name": spec["display_name"], "language": spec["language"],
                                              "name": "python3"}
    make = (ROOT / "Makefile").read_text()
    assert f'--name python3 --display-name "{spec["display_name"]}"' in make
    info, stored = dict(IPythonKernel.language_info), dict(book.metadata.language_info)
    assert {k: v for k, v in stored.items() if k != "version"} == {k: v for k, v in info.items() if k != "version"}
    assert stored["version"].split(".")[0] == "3" and len(stored["version"].split(".")) == 3
    assert set(book.metadata) == {"kernelspec", "language_info"}
    assert (book.nbformat, book.nbformat_minor) == (nbformat.current_nbformat, nbformat.current_nbformat_minor)
    ids = [c.id for c in book.cells]
    assert len(set(ids)) == len(ids) and all(ids)
    assert path.read_text() == nbformat.writes(book) + "\n"   # the bytes a save writes: no diff after a save


def test_first_code_cell_is_parameters_of_plain_literals(nb):
    _, book = nb
    first = code_cells(book)[0]
    assert "parameters" in first.metadata.get("tags", [])
    for stmt in ast.parse(first.source).body:
        assert isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets), ast.dump(stmt)
        ast.literal_eval(stmt.value)   # raises on anything but a literal


def test_checked_cells_carry_outputs_and_the_rest_none(nb):
    """Only a checked cell stores an output, with the execution count Run All gives it (nbval
    needs one); every other cell opens empty, with no count: nothing a learner sees before running
    is a result that nothing produced."""
    _, book = nb
    code = code_cells(book)
    assert any(CHECK in c.source for c in code)
    for position, c in enumerate(code, 1):
        if CHECK in c.source:
            assert c.outputs and c.execution_count == position, c.source
            assert all(o.get("name") != "stderr" for o in c.outputs), c.source
        else:
            assert not c.outputs and c.execution_count is None, c.source


def test_three_checked_cells_hold_the_methods_numbers(nb):
    """A broken method must change what nbval compares: at least three checked cells per notebook
    print numbers or verdicts of its runs (tools/mutate_method.py measures what they catch). They
    store the smoke run's output, which says the setting it came from where a reader could take it
    for the full setting's: each prints a level's size, or a table of runs."""
    _, book = nb
    numbers = [c for c in code_cells(book) if NUMBERS in c.metadata.get("tags", [])]
    assert len(numbers) >= 3, [c.source[:60] for c in numbers]
    assert all(c.source.startswith(CHECK) and c.outputs for c in numbers)


def test_every_checked_run_cell_is_tagged(nb):
    """A checked cell that reads a run (it follows the first run of the notebook) carries the tag,
    so that the test above, and the one below that re-computes untagged cells, see it."""
    _, book = nb
    code = code_cells(book)
    first_run = next((i for i, c in enumerate(code) if re.search(r"run_live|latest_or_run|variants\(|stylise\.stylise|train_model\(|run_grid\(|panel\.start", c.source)), len(code))
    for c in code[first_run:]:
        if c.source.startswith(CHECK):
            assert NUMBERS in c.metadata.get("tags", []), c.source


STUDIES = [p for p in NOTEBOOKS if p.stem in execute.NOTEBOOKS]   # 00-04: parameters, then settings


def outputs_of(book, cells, smoke: bool, monkeypatch) -> list[str]:
    """What `cells` print, run after the notebook's parameters and settings cells (nothing else:
    no network, no run) in smoke mode or at the full setting."""
    import contextlib
    import io
    monkeypatch.setenv("NST_SMOKE", "1" if smoke else "0")
    code = code_cells(book)
    ns = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for c in code[:2]:   # the parameters and the settings (tested to be first, below)
            exec(c.source, ns)
    out = []
    for c in cells:
        with contextlib.redirect_stdout(io.StringIO()) as buf:
            exec(c.source, ns)
        out.append(buf.getvalue())
    return out


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_checked_outputs_are_true_before_running_and_at_every_setting(path, monkeypatch):
    """Each stored output of a checked cell is what the cell prints from the parameters and the
    settings alone (so it is true when the notebook opens, before any run), and the same in smoke
    mode as at the full setting (so nbval's smoke check is the learner's output)."""
    book = nbformat.read(path, as_version=4)
    code = code_cells(book)
    assert "parameters" in code[0].metadata.get("tags", []) and "notebook.settings(" in code[1].source
    checked = [c for c in code if CHECK in c.source and NUMBERS not in c.metadata.get("tags", [])]
    stored = ["".join(o["text"] for o in c.outputs if o.output_type == "stream") for c in checked]
    assert outputs_of(book, checked, True, monkeypatch) == stored
    assert outputs_of(book, checked, False, monkeypatch) == stored


def test_the_adam_lesson_computes_the_same_at_every_setting(monkeypatch):
    """Notebook 00's demonstration that Adam ignores the overall scale of the loss runs on its own
    64 px images, so it prints the same numbers, and its assert holds, in smoke mode and at the
    full setting (it once said 'same picture: False' at 512 px and 'True' in smoke mode)."""
    book = nbformat.read(ROOT / "notebooks" / "00_baseline.ipynb", as_version=4)
    code = code_cells(book)
    net = next(c for c in code if c.source.startswith("net = load_backbone("))
    [adam] = [c for c in code if "1e3 * seed.style_weight" in c.source]
    smoke = outputs_of(book, [net, adam], True, monkeypatch)
    full = outputs_of(book, [net, adam], False, monkeypatch)
    assert smoke[1] == full[1] and "every weight x1000" in full[1]


def test_code_cells_are_short_and_define_nothing(nb):
    _, book = nb
    for c in code_cells(book):
        tree = ast.parse(c.source)
        defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, c.source
        assert len([line for line in c.source.splitlines() if line.strip()]) <= MAX_LINES, c.source


# --- settings and smoke mode -------------------------------------------------------------

def test_smoke_mode_shrinks_runs_and_separates_their_folder(monkeypatch):
    monkeypatch.setenv("NST_SMOKE", "1")
    s = notebook.settings(preset="exp2", size=512, steps=5000)
    cfg = s.config()
    assert s.smoke and (cfg.size, cfg.steps) == (notebook.SMOKE["size"], notebook.SMOKE["steps"])
    assert s.outputs == ROOT / "outputs" / "smoke"
    assert cfg.snapshot_every * 2 <= cfg.steps   # a few snapshots even in a tiny run
    monkeypatch.setenv("NST_SMOKE", "0")
    assert not notebook.settings().smoke


def test_recipes_keep_the_presets_weights(monkeypatch):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    s = notebook.settings(preset="exp3")
    fast, seed = s.config(), notebook.settings(preset="exp3", recipe="seed").config()
    assert seed == preset("exp3")                       # the seed's preset, unchanged
    assert (fast.optimizer, fast.size, fast.steps, fast.scales) == ("lbfgs", 512, 80, 3)   # auto: VGG19's recipe
    assert fast.init == "content_in_style_colours" and seed.init == "content"
    for field in ("content_weight", "style_weight", "style_layers", "content_layer", "gram_norm"):
        assert getattr(fast, field) == getattr(seed, field)
    assert s.content == ROOT / "images" / "content.jpg" and s.labels()["style_path"] == "images/style.jpg"
    with pytest.raises(ValueError, match="recipe"):
        notebook.settings(recipe="slow")
    with pytest.raises(ValueError, match="preset"):
        notebook.settings(preset="exp9")


def test_latest_or_run_reuses_only_matching_runs(tmp_path, monkeypatch, effnet, capsys):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    s = notebook.settings(size=64, steps=3, backbone="efficientnet_lite0", outputs=str(tmp_path))
    first = experiments.latest_or_run(s, "exp1", effnet, progress=False)
    again = experiments.latest_or_run(s, "exp1", effnet, progress=False)
    assert not first["reused"] and again["reused"] and again["folder"] == first["folder"]
    assert json.loads((first["folder"] / "config.json").read_text())["content_path"] == "images/content.jpg"
    longer = notebook.settings(size=64, steps=4, backbone="efficientnet_lite0", outputs=str(tmp_path))
    other = experiments.latest_or_run(longer, "exp1", effnet, progress=False)
    assert not other["reused"] and len(other["history"]) == 4
    assert "re-used" in capsys.readouterr().out


# --- verdicts ------------------------------------------------------------------------------

def rows(**changes):
    base = {**dict.fromkeys(metrics.METRICS, 0.1),   # every metric the table shows, whatever its key
            **dict(total_loss=1.0, ssim=0.5, content_distance=0.5, gram_distance=0.5, tv=0.1, hf_energy=0.01)}
    out = {n: dict(base) for n in experiments.EXPERIMENTS}
    for key, value in changes.items():
        name, metric = key.split("__")
        out[name][metric] = value
    return out


def verdict(table, name):
    return experiments.observations(table, names=[name])[0]["verdict"]


def test_observation_verdicts_follow_the_measurements():
    assert verdict(rows(exp3__ssim=0.6, exp3__content_distance=0.3), "exp3") == "supported"
    assert verdict(rows(exp3__ssim=0.6, exp3__content_distance=0.6), "exp3") == "partly supported"
    assert verdict(rows(exp3__ssim=0.505, exp3__content_distance=0.499), "exp3") == "not supported"  # within 2 %
    assert verdict(rows(exp2__ssim=0.4, exp2__content_distance=0.7), "exp2") == "supported"
    assert verdict(rows(exp1__hf_energy=0.02, exp1__tv=0.2), "exp1") == "supported"
    spread = rows(exp1__gram_distance=0.3, exp2__gram_distance=0.7, exp1__ssim=0.7, exp3__ssim=0.3)
    assert verdict(spread, "baseline") == "supported"
    assert verdict(rows(), "baseline") == "not supported"         # not strictly inside: ties
    only_two = {k: v for k, v in rows().items() if k in ("baseline", "exp1")}
    assert verdict(only_two, "baseline") == "not measured"
    table = experiments.metrics_markdown(rows())
    assert table.count("\n") == 2 + len(experiments.EXPERIMENTS) and "SSIM" in table


# --- the live loss plot ----------------------------------------------------------------------

class FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, obj):
        assert obj.format == "png" and obj.data[:4] == b"\x89PNG"
        self.updates += 1


def test_live_plot_redraws_one_output_in_place(monkeypatch):
    shown = []
    monkeypatch.setattr(live, "display", lambda obj, display_id=False: shown.append(obj) or FakeHandle())
    cfg = preset("baseline", steps=20)
    plot = live.LiveLossPlot(cfg, every=5)
    for step in range(1, 21):
        plot(step, {"step": step, "total": 10.0 / step, "content": 1.0, "style": 1e-6 / step, "size": 64}, None)
    plot(20, {"step": 20, "total": 0.5, "content": 1.0, "style": 1e-7, "size": 64}, None)   # the run's final call
    plot.finish()
    assert len(shown) == 1 and plot.handle.updates == 5   # steps 10, 15, 20, 20 again, finish
    assert [r["step"] for r in plot.history] == list(range(1, 21))


# --- claims about the fast recipe ----------------------------------------------------------

NUMBER_WORDS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5}


def fast_recipe_claims(text: str) -> list[tuple[str, int]]:
    """(what, number) for each statement of the fast recipe's size, steps or scales in `text`:
    'fast: 150' on a steps line, 'fast: 256' on a size line; and, across line breaks,
    'L-BFGS, 150 steps', 'up to 512 px', 'pyramid to 512 px', '4-scale pyramid', 'one scale'."""
    import re
    claims = []
    for line in text.splitlines():  # the parameter cells' comments: '(fast: 150, seed: 5000)'
        before = line.split("fast:")[0]
        what = "size" if "size" in before else "steps" if "steps" in before else None
        claims += [(what, int(n)) for n in re.findall(r"fast: (\d+)", line) if what]
    flat = " ".join(text.split())  # a claim may wrap: 'one\nscale'
    claims += [("steps", int(n)) for n in re.findall(r"L-BFGS, (\d+) steps", flat)]
    claims += [("size", int(n)) for n in re.findall(r"(?:up to|pyramid to) (\d+) px", flat)]
    for word in re.findall(r"\b(\w+)[- ]scales?\b", flat, flags=re.I):
        if word.lower() in NUMBER_WORDS or word.isdigit():
            claims.append(("scales", NUMBER_WORDS.get(word.lower()) or int(word)))
    return claims


def test_the_claims_finder_finds_stale_numbers():
    text = ("size = None  # the recipe's own (fast: 256, seed: 512)\nthe fast recipe (L-BFGS, one\n"
            "scale, 150 steps at 256 px)\nL-BFGS, 120 steps on a 3-scale pyramid up to 384 px")
    assert sorted(fast_recipe_claims(text)) == sorted([("size", 256), ("scales", 1), ("steps", 120),
                                                       ("size", 384), ("scales", 3)])


@pytest.mark.parametrize("path", [*NOTEBOOKS, ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda p: p.name)
def test_what_the_text_says_of_the_fast_recipe_is_true(path, monkeypatch):
    """Every number a notebook (markdown and code comments), the README or a docs/ page gives for the fast
    recipe's size, steps or pyramid levels is the preset's (a recipe change must update the text)."""
    monkeypatch.delenv("NST_SMOKE", raising=False)
    fast = preset("fast")
    truth = {"size": fast.size, "steps": fast.steps, "scales": fast.scales}
    text = path.read_text() if path.suffix == ".md" else "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells)
    wrong = [(what, n, truth[what]) for what, n in fast_recipe_claims(text) if n != truth[what]]
    assert not wrong, f"{path.name} says (what, says, is): {wrong}"


def test_early_snapshots_keep_the_log_spaced_steps_only():
    keep = live.EarlySnapshots([1, 2, 4])
    images = {step: torch.full((1, 3, 2, 2), float(step)) for step in range(1, 7)}
    for step, image in images.items():
        keep(step, {"step": step}, image)
    assert sorted(keep.images) == [1, 2, 4] and all(torch.equal(keep.images[k], images[k]) for k in (1, 2, 4))


def test_run_live_adds_the_early_snapshots_to_the_run(tmp_path, monkeypatch, effnet, capsys):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    s = notebook.settings(size=64, steps=30, backbone="efficientnet_lite0", outputs=str(tmp_path))
    assert s.config("baseline").snapshot_every == 6   # steps 1, 2, 4 come from EarlySnapshots
    result, folder = notebook.run_live(s, "baseline", effnet)
    assert {1, 2, 4} <= set(result.snapshots) and (folder / "snapshots" / "step_00004.png").is_file()


def test_measure_runs_shows_its_progress_and_measures_as_measure_does(effnet, tiny_pair, capsys):
    """Measuring takes seconds an image at 512 px: a bar (here, off a terminal, plain lines on
    stderr) ticks once an image, and the rows are metrics.measure's, photo and painting included."""
    content, style = tiny_pair
    history = [{"step": 1, "total": 2.0}, {"step": 2, "total": 1.0}]
    loaded = {"run": {"image": (content + style) / 2, "content": content, "style": style, "history": history}}
    rows = experiments.measure_runs(loaded, effnet)
    assert list(rows) == ["run", "(content photo)", "(style image)"]
    assert rows["run"] == metrics.measure((content + style) / 2, content, style, effnet, history)
    err = capsys.readouterr().err
    assert "measuring: 3 images of 3 (100 %)" in err, err
    assert experiments.measure_runs(loaded, effnet, references=False, progress=False) == {"run": rows["run"]}
    assert capsys.readouterr().err == ""


def test_smoke_runs_climb_two_levels_in_float32(monkeypatch):
    """Smoke mode exercises what the default does (several pyramid levels, the fast recipe's split)
    in float32, so that the checked numbers match on CPUs with and without native bf16."""
    monkeypatch.setenv("NST_SMOKE", "1")
    fast = notebook.settings(preset="baseline").config()
    assert (fast.size, fast.steps, fast.scales, fast.scale_steps, fast.mixed_precision) == (96, 16, 2, [10, 6], False)
    lite = notebook.settings(backbone="efficientnet_lite0").config()
    assert lite.scale_steps == [8, 8] and not lite.mixed_precision     # Lite's 50/50 split
    seed = notebook.settings(recipe="seed").config()
    assert (seed.optimizer, seed.scales, seed.steps, seed.mixed_precision) == ("adam", 1, 16, False)
