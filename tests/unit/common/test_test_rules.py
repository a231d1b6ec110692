"""The test suite's own rules, read from its source: core dependencies are imported, never
``importorskip``ped; shared data comes only through ``helpers.testdata.shared_dataset`` (the
``shared_data`` fixture, which honours FEATX_REQUIRE_SHARED); shared helpers live in
``tests/helpers/`` and are imported from there, never from another test module or through a
``sys.path`` insert. Each rule is also shown catching a planted violation."""

from __future__ import annotations

import ast
import os

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the one sys.path insert: a dask worker preload script, run in the worker's own interpreter
SCRIPTS = {os.path.join("helpers", "netns_preload.py")}
# the one place that names the shared data folder
SHARED_HOME = os.path.join("helpers", "testdata.py")
ABSOLUTE, RELATIVE = "/work/" + "shared", "../" + "shared/"  # split, so that this file does not name them


def violations(rel: str, text: str) -> list[str]:
    """The rules ``text`` (the source of tests/``rel``) breaks, one line each, in line order."""
    out = []
    tree = ast.parse(text)
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Attribute) and node.attr == "importorskip":
            out.append(f"{rel}:{node.lineno}: importorskip (core dependencies are imported)")
        if isinstance(node, ast.Attribute) and node.attr in ("insert", "append") and rel not in SCRIPTS:
            if isinstance(node.value, ast.Attribute) and node.value.attr == "path" and getattr(node.value.value, "id", "") == "sys":
                out.append(f"{rel}:{node.lineno}: sys.path.{node.attr} (import helpers from tests/helpers)")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("test_"):
            out.append(f"{rel}:{node.lineno}: imports the test module {node.module} (move what it shares to tests/helpers)")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0].startswith("test_"):
                    out.append(f"{rel}:{node.lineno}: imports the test module {alias.name}")
        if rel != SHARED_HOME and _names_shared_data(node):
            out.append(f"{rel}:{node.lineno}: names the shared data folder (use the shared_data fixture)")
    return out


def _names_shared_data(node) -> bool:
    """A string (docstrings aside) that is a path into ../shared, or a path join of "shared", "data"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ABSOLUTE in node.value or node.value.startswith(RELATIVE)
    if isinstance(node, ast.Call):
        words = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        return any(w == "shared" and nxt == "data" for w, nxt in zip(words, words[1:]))
    return False


def test_the_suite_keeps_its_rules():
    found = []
    for root, _, files in os.walk(TESTS):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, TESTS)
                with open(path, encoding="utf-8") as fh:
                    found += violations(rel, fh.read())
    assert found == []


PLANTED = "\n".join([
    '"""A docstring may say ../shared/data."""',
    "import sys",
    "import pytest",
    "sys.path.insert(0, 'x')",
    "distributed = pytest.importorskip('distributed')",
    "from test_cluster_kills import tiny_checkpoint",
    "import test_spec",
    "DATA = '/work/" + "shared/data/flowers'",
    "HYM = os.path.join(REPO, '..', 'shared', 'data')",
    "",
])


def test_each_rule_catches_a_planted_violation():
    assert violations(os.path.join("unit", "test_x.py"), PLANTED) == [
        "unit/test_x.py:4: sys.path.insert (import helpers from tests/helpers)",
        "unit/test_x.py:5: importorskip (core dependencies are imported)",
        "unit/test_x.py:6: imports the test module test_cluster_kills (move what it shares to tests/helpers)",
        "unit/test_x.py:7: imports the test module test_spec",
        "unit/test_x.py:8: names the shared data folder (use the shared_data fixture)",
        "unit/test_x.py:9: names the shared data folder (use the shared_data fixture)",
    ]
    # the preload script may insert; the shared-data helper may name the folder
    assert violations(os.path.join("helpers", "netns_preload.py"), "import sys\nsys.path.insert(0, 'x')\n") == []
    assert violations(SHARED_HOME, "HYM = os.path.join(REPO, '..', 'shared', 'data')\n") == []
