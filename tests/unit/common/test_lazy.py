"""featx.common.lazy: the one text table a package lists its lazy exports in, read by
parse_listing; lazy_exports on a planted package (a name's module is imported only when the name
is first read) and on featx's own sub-packages (importing them imports no heavy library; every
exported name resolves)."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from featx.common.lazy import parse_listing
from helpers.fresh import fresh_run

SUBPACKAGES = ("featx.classify.audits", "featx.classify.cv", "featx.classify.heads", "featx.classify.transfer",
               "featx.extract.cache", "featx.extract.finetune", "featx.extract.images", "featx.extract.models",
               "featx.extract.runtime", "featx.pipelines")
HEAVY = ("torch", "torchvision", "timm", "sklearn", "scipy", "h5py", "openvino", "matplotlib", "xgboost")


def test_parse_listing_maps_each_name_to_its_module():
    table = parse_listing("""
        _a: one two
        featx.x._b: Three

        _a: four
    """)
    assert table == {"one": "_a", "two": "_a", "Three": "featx.x._b", "four": "_a"}


@pytest.mark.parametrize(("listing", "message"), [
    ("  _a one two\n", "lazy export line '_a one two' must read 'module: name name ...'"),
    ("_a:\n", "lazy export line '_a:' must read 'module: name name ...'"),
    (": one\n", "lazy export line ': one' must read 'module: name name ...'"),
    ("_a: one\n_b: two one\n", "lazy export 'one' is listed twice (modules '_a' and '_b')"),
])
def test_a_malformed_listing_is_refused_with_the_line(listing, message):
    with pytest.raises(ValueError) as info:
        parse_listing(listing)
    assert str(info.value) == message


def _plant(root):
    pkg = root / "planted_lazy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from featx.common.lazy import lazy_exports\n"
        "from planted_lazy._light import LIGHT\n"
        "__all__ = ['LIGHT']\n"
        "__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), '''\n"
        "    _heavy: beta Alpha\n"
        "    _other: gamma\n"
        "''', eager=__all__)\n")
    (pkg / "_light.py").write_text("LIGHT = 'light'\n")
    (pkg / "_heavy.py").write_text("import sys\nsys.heavy_imports = getattr(sys, 'heavy_imports', 0) + 1\n"
                                   "beta = 'b'\nclass Alpha:\n    pass\n")
    (pkg / "_other.py").write_text("gamma = 3\n")


def test_a_planted_package_imports_a_module_when_its_name_is_first_read(tmp_path, monkeypatch):
    _plant(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        pkg = importlib.import_module("planted_lazy")
        assert pkg.__all__ == ["Alpha", "LIGHT", "beta", "gamma"]
        assert "planted_lazy._heavy" not in sys.modules and "planted_lazy._other" not in sys.modules
        assert set(pkg.__all__) <= set(dir(pkg))
        assert pkg.beta == "b" and "planted_lazy._heavy" in sys.modules and "planted_lazy._other" not in sys.modules
        assert pkg.Alpha.__module__ == "planted_lazy._heavy" and sys.heavy_imports == 1
        assert vars(pkg)["beta"] == "b"  # kept: a second read does not go through __getattr__
        from planted_lazy import gamma
        assert gamma == 3
        with pytest.raises(AttributeError, match="^module 'planted_lazy' has no attribute 'delta'$"):
            pkg.delta  # noqa: B018
    finally:
        for name in [m for m in sys.modules if m == "planted_lazy" or m.startswith("planted_lazy.")]:
            del sys.modules[name]
        if hasattr(sys, "heavy_imports"):
            del sys.heavy_imports


def test_featx_subpackages_import_no_heavy_library_and_list_their_names_sorted():
    code = f"import importlib, json\nprint(json.dumps({{n: importlib.import_module(n).__all__ for n in {list(SUBPACKAGES)!r}}}))"
    out, imported = fresh_run(code, HEAVY)
    assert imported == []
    for name, exported in json.loads(out).items():
        assert exported == sorted(set(exported)) and exported, name


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_name_a_subpackage_exports_resolves(package):
    pkg = importlib.import_module(package)
    missing = [n for n in pkg.__all__ if n not in dir(pkg)]
    assert missing == []
    homes = {name: getattr(getattr(pkg, name), "__module__", None) for name in pkg.__all__}
    assert {n: m for n, m in homes.items() if m is not None and not m.startswith("featx.")} == {}
    assert len([m for m in homes.values() if m is not None]) >= len(homes) // 2  # most are classes and functions
