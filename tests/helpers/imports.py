"""The import rules of the architecture, read from the source: every ``featx`` import of every
module (at module level and inside functions; ``if TYPE_CHECKING:`` blocks are never executed and
do not count). Used by tests/unit/common/test_import_direction.py on the product and on planted
trees, so the same code that passes the product is shown to catch a violation."""

from __future__ import annotations

import ast
import pathlib

PACKAGES = {"common": "featx.common", "extract": "featx.extract", "classify": "featx.classify", "pipelines": "featx.pipelines"}
MAY_IMPORT = {
    "featx.common": set(),
    "featx.extract": {"featx.common"},
    "featx.classify": {"featx.common"},
    "featx.pipelines": {"featx.common", "featx.extract", "featx.classify"},
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node, except what sits in an ``if TYPE_CHECKING:`` body."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _statements(path: pathlib.Path, module: str):
    """``(line, base, names)`` per import: ``import a.b`` gives ``("a.b", None)``, ``from a import
    b, c`` gives ``("a", ["b", "c"])``; relative imports resolved against ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            yield node.lineno, base, [a.name for a in node.names if a.name != "*"]


def _featx(name: str) -> bool:
    return name == "featx" or name.startswith("featx.")


def imports(path: pathlib.Path, module: str = "") -> list[tuple[int, str]]:
    """``(line, name)`` for each featx import in ``path``: ``import a.b`` gives ``a.b``; ``from a
    import b`` gives ``a`` and ``a.b`` (``b`` may be a module or a name)."""
    out = []
    for line, base, names in _statements(path, module):
        out.append((line, base))
        out += [(line, f"{base}.{n}") for n in names or ()]
    return sorted((n, m) for n, m in out if _featx(m))


def modules(root: pathlib.Path, packages: dict = PACKAGES) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py file under the packages' folders."""
    out = {}
    for folder, package in packages.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root / folder).with_suffix("").parts
            rel = rel[:-1] if rel[-1] == "__init__" else rel
            out[".".join((package, *rel))] = path
    return out


def owner(module: str, rules: dict = MAY_IMPORT) -> str | None:
    return next((p for p in rules if module == p or module.startswith(p + ".")), None)


def violations(root: pathlib.Path, package: str | None = None, packages: dict = PACKAGES,
               rules: dict = MAY_IMPORT) -> list[str]:
    """Imports that break the rules (one line each, ``file:line imports name (why)``): a package
    importing one it may not, or any private module (a ``_name`` part) of another package."""
    problems = []
    for module, path in modules(root, packages).items():
        mine = owner(module, rules)
        if package is not None and mine != package:
            continue
        for line, name in imports(path, module):
            target = owner(name, rules)
            if target is None or target == mine:
                continue
            where = f"{path.relative_to(root)}:{line} imports {name}"
            if target not in rules[mine]:
                problems.append(f"{where} ({mine} must not import {target})")
            rest = name[len(target) + 1:].split(".")
            if any(part.startswith("_") for part in rest):
                problems.append(f"{where} (a private module of {target})")
    return problems


def graph(root: pathlib.Path, packages: dict = PACKAGES) -> dict[str, set[str]]:
    """Module -> the featx modules it imports: ``import a.b`` -> ``a.b``; ``from a import b`` ->
    ``a.b`` when that is a module, else ``a`` (the module that holds the name ``b``). A package's
    ``__init__`` that Python runs before any of its sub-modules is no edge; a module's import of
    itself is left out."""
    known = modules(root, packages)
    edges: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for _line, base, names in _statements(path, module):
            targets = [base] if names is None else [f"{base}.{n}" if f"{base}.{n}" in known else base for n in names]
            for name in targets:
                while name and name not in known:  # a name that is no module: the module that holds it
                    name = name.rpartition(".")[0]
                if name and _featx(name) and name != module:
                    edges[module].add(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: one closed path (``[a, b, a]``) per strongly connected group of
    modules (Tarjan), shortest first, each starting at its smallest name."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    out = [_closed_path(edges, g) for g in groups]
    return sorted(out, key=lambda p: (len(p), p))


def _closed_path(edges, group: set[str]) -> list[str]:
    """The shortest circle through the smallest module of ``group`` (breadth-first inside it)."""
    start = min(group)
    paths, seen = [[start]], {start}
    while paths:
        nxt = []
        for path in paths:
            for w in sorted(edges[path[-1]] & group):
                if w == start:
                    return path + [start]
                if w not in seen:
                    seen.add(w)
                    nxt.append(path + [w])
        paths = nxt
    raise AssertionError(f"no circle in {sorted(group)}")


#: packages whose top level is a curated surface: another package imports from it only the names in
#: its ``__all__``; everything else comes from the public sub-package that exports it
CURATED = ("featx.classify", "featx.extract")


def exported(root: pathlib.Path, package: str) -> set[str]:
    """The names of ``package``'s ``__all__``, read from its ``__init__.py`` source (a literal list)."""
    folder = next(f for f, p in PACKAGES.items() if p == package)
    tree = ast.parse((root / folder / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def off_surface(root: pathlib.Path, curated=CURATED) -> list[str]:
    """Imports by another package of a name from a curated package's top level that its
    ``__all__`` does not export (one line each)."""
    problems = []
    shown = {p: exported(root, p) for p in curated}
    folders = {p: root / next(f for f, q in PACKAGES.items() if q == p) for p in curated}
    for module, path in modules(root).items():
        for line, name in imports(path, module):
            for package in curated:
                if owner(module) == package or not name.startswith(package + "."):
                    continue
                part = name[len(package) + 1:]
                if "." in part or part in shown[package] or (folders[package] / part).is_dir() \
                        or (folders[package] / f"{part}.py").exists():
                    continue
                problems.append(f"{path.relative_to(root)}:{line} imports {part} from {package}, whose __all__ does not "
                                f"export it; import it from the sub-package that does")
    return problems
