"""The project around the package: dependency lists in step, layout, README promises."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    conda_pip = {_name(line.strip()[2:]) for line in lines[start + 1:] if line.strip().startswith("- ")}
    assert conda_pip == wanted
    assert "  - python=3.11" in lines


DOCS = sorted((ROOT / "docs").glob("*.md"))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_layout_and_readme_promises():
    for path in ("notebooks", "nst_helpers", "images", "outputs/README.md", "tests", "environment.yml",
                 "README.md", "pyproject.toml", "Makefile", ".ci/run", "images/SOURCES.md", "docs"):
        assert (ROOT / path).exists(), path
    readme = (ROOT / "README.md").read_text()
    everything = readme + "".join(p.read_text() for p in DOCS)
    for words in ("make demo", "make test", "jupyter lab", "NST_VGG19_WEIGHTS", "efficientnet_lite0", "outputs/"):
        assert words in everything, words
    assert "## Testing" in readme   # the test text stays in the README itself
    assert "make test" in (ROOT / ".ci/run").read_text()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "outputs/*" in ignored and "!outputs/README.md" in ignored


def test_the_readmes_first_screen_is_where_a_learner_starts():
    """Issue 28: what it is, the two commands, notebook 00 then 05, a picture, the command line in
    five lines, all in the first 40 lines; a slow example is marked slow where it stands."""
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    for words in ("make demo", "make test", "make lab", "notebook 00, then 05", "00_baseline.ipynb",
                  "05_interactive_explorer.ipynb", "<img src=\"images/content.jpg\"", "<img src=\"images/style.jpg\"",
                  "outputs/fast/", "python -m nst_helpers --content", "--resume", "nst --help"):
        assert words in first, words
    commands = [line for line in first.splitlines() if line.startswith((".venv/bin/nst", ".venv/bin/python -m nst"))]
    assert len(commands) == 5, commands
    for line in commands:
        if "--preset baseline" in line or any(f"--preset {p}" in line for p in ("exp1", "exp2", "exp3")):
            assert "SLOW" in line, line
    assert (ROOT / "README.md").stat().st_size < 8000   # the rest lives in docs/


def _anchor(heading: str) -> str:
    """GitHub's id for a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_of_the_readme_and_docs_resolves_and_every_page_is_linked():
    pages = [ROOT / "README.md", *DOCS]
    assert DOCS, "docs/ has no pages"
    for page in pages:
        text = page.read_text()
        targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)
        for target in targets:
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name}: {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"
    readme = (ROOT / "README.md").read_text()
    for doc in DOCS:
        assert f"](docs/{doc.name})" in readme, f"README does not link docs/{doc.name}"


# --- the times the README, docs/ and --help state are the estimator's -----------------------

def _estimate(name: str, backbone: str, **overrides) -> str:
    from nst_helpers.core.config import preset
    from nst_helpers.runs import duration
    return duration.in_words(duration.estimate(preset(name, backbone=backbone, **overrides), backbone, "cpu"))


def test_the_readmes_times_are_the_estimators():
    """Issue 28: the README promised about 50 s where the estimate (and a run) said more. Each
    'about <time>' in the README is runs/duration.py's figure for what the sentence names."""
    from nst_helpers.backbones.layers import BACKBONES
    from nst_helpers.core.config import PRESETS
    readme = _flat((ROOT / "README.md").read_text())
    assert f"about {_estimate('fast', 'vgg19')} on a 2-core CPU by the estimate" in readme
    assert f"5000 Adam steps, about {_estimate('baseline', 'vgg19')} on VGG19" in readme
    figures = {_estimate(p, b) for p in PRESETS for b in BACKBONES if b != "auto"}
    for said in re.findall(r"about (\d+(?:\.\d+)? (?:s|min|h))\b", readme):
        assert said in figures, f"the README says 'about {said}'; the estimator says one of {sorted(figures)}"


def _close(shown: str, value: float) -> bool:
    """`shown` (e.g. '0.6') is `value` rounded to as many decimals as it shows."""
    decimals = len(shown.partition(".")[2])
    return abs(float(shown) - value) <= 0.5 * 10 ** -decimals + 1e-9


def test_the_docs_time_table_is_the_estimators():
    """docs/presets-and-timing.md's table: each backbone's measured rates are STEP_COST's, and the
    fast and seed columns are the estimator's (the fast one with that backbone's own recipe)."""
    from nst_helpers.core.config import preset
    from nst_helpers.runs.duration import STEP_COST
    rows = [line.split("|")[1:-1] for line in (ROOT / "docs" / "presets-and-timing.md").read_text().splitlines()
            if re.match(r"\| (efficientnet_lite|vgg19)", line)]
    assert len(rows) == 4, rows
    for first, adam, lbfgs, bf16, fast, seed in ([c.strip() for c in row] for row in rows):
        for backbone in first.split(", "):
            for cell, key in ((adam, (backbone, "cpu", "adam")), (lbfgs, (backbone, "cpu", "lbfgs"))):
                rate, start = re.fullmatch(r"([\d.]+), ([\d.]+) s", cell).groups()
                assert _close(rate, STEP_COST[key][0]) and _close(start, STEP_COST[key][1]), (backbone, cell)
            if bf16 == "as fp32":
                assert (backbone, "cpu", "adam", "bf16") not in STEP_COST
            else:
                for part, opt in zip(bf16.split("; "), ("adam", "lbfgs")):
                    rate, start = re.fullmatch(r"([\d.]+), ([\d.]+) s", part).groups()
                    cost = STEP_COST[(backbone, "cpu", opt, "bf16")]
                    assert _close(rate, cost[0]) and _close(start, cost[1]), (backbone, part)
            steps = preset("fast", backbone=backbone).steps
            assert re.match(rf"{steps} steps\b.*, about {re.escape(_estimate('fast', backbone))}$", fast), (backbone, fast)
            assert seed.startswith(f"about {_estimate('baseline', backbone)}"), (backbone, seed)


def test_a_commented_example_states_the_estimators_time():
    """A command in the README or docs/ with '# ... about <time> on <backbone>' beside it says what
    the estimator says for that preset, step budget and backbone."""
    checked = 0
    for page in [ROOT / "README.md", *DOCS]:
        for line in page.read_text().splitlines():
            said = re.search(r"#.*about (\d+(?:\.\d+)? (?:s|min|h)) on (\w+)", line)
            chosen = re.search(r"--preset (\w+)", line)
            if not (said and chosen):
                continue
            steps = re.search(r"--steps (\d+)", line)
            overrides = {"steps": int(steps.group(1))} if steps else {}
            assert said.group(1) == _estimate(chosen.group(1), said.group(2), **overrides), f"{page.name}: {line}"
            checked += 1
    assert checked, "no commented example with a time was found"


def test_help_says_each_presets_time_in_a_paragraph_of_its_own():
    """Issue 28 quoted --help as 'EfficientNet-Lite: 150 steps) (80 steps at 512 px: about 8 s on
    efficientnet_lite0': one run-on line, and Lite0 priced with VGG19's 80 steps."""
    from nst_helpers.cli.args import build_parser
    from nst_helpers.core.config import PRESETS, preset
    epilog = build_parser().format_help().split("Presets, ", 1)[1]
    paragraphs = [_flat(p) for p in re.split(r"\n(?=\w+(?: \(the default\))?: )", epilog)[1:]]
    assert [p.split(":")[0].split(" (")[0] for p in paragraphs] == ["fast", *[p for p in PRESETS if p != "fast"]]
    for text in paragraphs:
        assert ") (" not in text and text.endswith("."), text
    fast = paragraphs[0]
    for backbone in ("vgg19", "efficientnet_lite0"):
        steps = preset("fast", backbone=backbone).steps
        assert f"on {backbone} {steps} steps" in fast and f"about {_estimate('fast', backbone)}" in fast, fast
    assert f"about {_estimate('baseline', 'vgg19')} on vgg19" in paragraphs[1]


def test_a_wheel_holds_every_subpackage():
    """pyproject's package list once named two of the eight packages: an installed (not editable)
    copy had no nst_helpers.core. Every folder with an __init__.py must be found."""
    from setuptools import find_packages
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=found["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nst_helpers").rglob("__init__.py")}
    assert on_disk <= packages and "nst_helpers.core" in packages
