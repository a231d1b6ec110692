"""The architecture's import rules, read from the source (every import, also those inside
functions): data flows one way, common <- extract, common <- classify, pipelines -> all; no
package reaches into another package's private modules."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGES = {"common": "featx.common", "extract": "featx.extract", "classify": "featx.classify", "pipelines": "featx.pipelines"}
MAY_IMPORT = {
    "featx.common": set(),
    "featx.extract": {"featx.common"},
    "featx.classify": {"featx.common"},
    "featx.pipelines": {"featx.common", "featx.extract", "featx.classify"},
}


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(n, m) for n, m in out if m.startswith("featx.")]


def _owner(module: str) -> str | None:
    return next((p for p in MAY_IMPORT if module == p or module.startswith(p + ".")), None)


def _product_files():
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield package, path


def test_the_rules_see_every_package():
    files = list(_product_files())
    assert {p for p, _ in files} == set(PACKAGES.values())
    assert sum(1 for _ in files) > 40


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_flow_one_way_and_never_into_another_packages_private_modules(package):
    problems = []
    for owner, path in _product_files():
        if owner != package:
            continue
        for line, module in _imports(path):
            target = _owner(module)
            if target is None or target == package:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if target not in MAY_IMPORT[package]:
                problems.append(f"{where} ({package} must not import {target})")
            rest = module[len(target) + 1:].split(".")
            if any(part.startswith("_") for part in rest):
                problems.append(f"{where} (a private module of {target})")
    assert not problems, "\n".join(problems)


def test_a_violation_is_caught(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from featx.extract._engine import extract\n    import featx.pipelines\n")
    assert [m for _, m in _imports(bad)] == ["featx.extract._engine", "featx.extract._engine.extract", "featx.pipelines"]
