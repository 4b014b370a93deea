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


def test_layout_and_readme_promises():
    for path in ("notebooks", "nst_helpers", "images", "outputs/README.md", "tests", "environment.yml",
                 "README.md", "pyproject.toml", "Makefile", ".ci/run", "images/SOURCES.md"):
        assert (ROOT / path).exists(), path
    readme = (ROOT / "README.md").read_text()
    for words in ("make demo", "make test", "jupyter lab", "NST_VGG19_WEIGHTS", "efficientnet_lite0", "outputs/"):
        assert words in readme, words
    assert "make test" in (ROOT / ".ci/run").read_text()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "outputs/*" in ignored and "!outputs/README.md" in ignored


def test_a_wheel_holds_every_subpackage():
    """pyproject's package list once named two of the eight packages: an installed (not editable)
    copy had no nst_helpers.core. Every folder with an __init__.py must be found."""
    from setuptools import find_packages
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=found["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "nst_helpers").rglob("__init__.py")}
    assert on_disk <= packages and "nst_helpers.core" in packages
