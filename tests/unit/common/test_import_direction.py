"""The architecture's import rules, read from the source (every import, also those inside
functions): data flows one way, common <- extract, common <- classify, pipelines -> all; no
package reaches into another package's private modules; no two modules import each other, through
any number of steps. Each rule is shown to catch a violation planted in a throw-away tree, with
the same checker (tests/helpers/imports.py) that passes the product."""

from __future__ import annotations

import pathlib

import pytest

from helpers.imports import MAY_IMPORT, PACKAGES, cycles, graph, imports, modules, off_surface, violations

ROOT = pathlib.Path(__file__).resolve().parents[3]

def _plant(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """A tree shaped like the product's (one folder per package) holding ``files``."""
    for folder in PACKAGES:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text('"""A planted package."""\n')
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_rules_see_every_package():
    found = modules(ROOT)
    assert {m.split(".")[1] for m in found} == set(PACKAGES)
    assert set(PACKAGES.values()) <= set(found)
    assert len(found) == len([p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py")])


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_flow_one_way_and_never_into_another_packages_private_modules(package):
    problems = violations(ROOT, package)
    assert problems == [], "\n".join(problems)


def test_imports_are_read_at_module_level_inside_functions_and_relative(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("import os\nfrom typing import TYPE_CHECKING\n"
                   "def f():\n    from featx.extract._engine import extract\n    import featx.pipelines\n"
                   "from . import sibling\n"
                   "if TYPE_CHECKING:\n    from featx.classify import FeatureSet\n")
    assert imports(bad, "featx.common.x") == [
        (4, "featx.extract._engine"), (4, "featx.extract._engine.extract"), (5, "featx.pipelines"),
        (6, "featx.common"), (6, "featx.common.sibling")]


def test_a_planted_wrong_way_and_private_import_is_caught(tmp_path):
    root = _plant(tmp_path, {
        "extract/_engine.py": '"""Fine: extract may import common."""\nfrom featx.common import settings\n',
        "extract/bad.py": "def f():\n    from featx.pipelines.cli import main\n    return main\n",
        "pipelines/cli.py": "from featx.classify._cv import cross_validate\n",
    })
    assert violations(root) == [
        "extract/bad.py:2 imports featx.pipelines.cli (featx.extract must not import featx.pipelines)",
        "extract/bad.py:2 imports featx.pipelines.cli.main (featx.extract must not import featx.pipelines)",
        "pipelines/cli.py:1 imports featx.classify._cv (a private module of featx.classify)",
        "pipelines/cli.py:1 imports featx.classify._cv.cross_validate (a private module of featx.classify)",
    ]
    assert violations(root, "featx.common") == []


def test_a_planted_import_circle_is_caught_also_through_a_function_level_import(tmp_path):
    root = _plant(tmp_path, {
        "common/a.py": "from featx.common import b\n",
        "common/b.py": "def f():\n    from featx.common.c import g\n    return g\n",
        "common/c.py": "import featx.common.a\n",
        "common/d.py": "from featx.common import a, e\n",  # d -> a and d -> e: no circle
        "common/e.py": "X = 1\n",
        "extract/_one.py": "from featx.extract._two import y\nx = 1\n",
        "extract/_two.py": "from featx.extract import _one\ny = 2\n",
    })
    edges = graph(root)
    assert edges["featx.common.d"] == {"featx.common.a", "featx.common.e"}
    assert edges["featx.common.b"] == {"featx.common.c"}
    assert cycles(edges) == [
        ["featx.extract._one", "featx.extract._two", "featx.extract._one"],
        ["featx.common.a", "featx.common.b", "featx.common.c", "featx.common.a"],
    ]
    assert cycles({m: set() for m in edges}) == []


def test_no_import_circle_between_any_two_modules():
    found = cycles(graph(ROOT))
    assert found == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_other_packages_use_only_the_curated_top_levels_of_classify_and_extract():
    problems = off_surface(ROOT)
    assert problems == [], "\n".join(problems)
    import featx.classify
    import featx.extract

    for package in (featx.classify, featx.extract):  # every curated name resolves
        for name in package.__all__:
            getattr(package, name)


def test_a_planted_import_off_the_curated_surface_is_caught(tmp_path):
    root = _plant(tmp_path, {
        "classify/__init__.py": '__all__ = ["FeatureSet"]\n',
        "classify/audits/__init__.py": '"""Audits."""\n',
        "pipelines/a.py": "from featx.classify import FeatureSet\nfrom featx.classify.audits import cluster_rows\n",
        "pipelines/b.py": "def f():\n    from featx.classify import FeatureSet, cluster_rows\n",
    })
    assert off_surface(root) == [
        "pipelines/b.py:2 imports cluster_rows from featx.classify, whose __all__ does not export it; "
        "import it from the sub-package that does"]

