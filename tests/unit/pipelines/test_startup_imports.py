"""The commands that answer at once import no heavy library: ``featx --help`` (and every
subcommand's ``--help``), ``featx models`` and ``featx info CACHE`` run in a fresh interpreter
without torch, scikit-learn or OpenVINO in ``sys.modules``. A structural check, not a timed one
(the times are in benchmarks/bench_startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "timm", "sklearn", "openvino", "scipy", "matplotlib", "joblib")

_CHILD = """
import json, sys
from featx.pipelines.cli import main
argv = json.loads(sys.argv[1])
try:
    code = main(argv)
except SystemExit as exc:  # --help
    code = exc.code
heavy = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def run_cli(*argv: str) -> tuple[int, list[str], str]:
    """(exit code, heavy modules imported, stdout) of ``featx ARGV`` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(list(argv)), json.dumps(HEAVY)],
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stderr.strip().splitlines()[-1])
    return result["code"], result["heavy"], out.stdout


@pytest.mark.parametrize("argv", [("--help",), ("extract", "--help"), ("cv", "--help"), ("run", "--help"),
                                  ("audit", "--help"), ("fit", "--help"), ("predict", "--help"),
                                  ("finetune", "--help"), ("info", "--help")])
def test_help_imports_no_heavy_library(argv):
    code, heavy, stdout = run_cli(*argv)
    assert (code, heavy) == (0, [])  # argparse's --help exits with status 0
    assert stdout.startswith(" ".join(["usage: featx", *argv[:-1]]) + " "), stdout[:200]


def test_models_imports_no_heavy_library():
    code, heavy, stdout = run_cli("models")
    assert (code, heavy) == (0, [])
    assert "efficientnet_lite0" in stdout


def test_info_of_a_cache_imports_no_heavy_library(colour_dataset, tmp_path):
    from featx.extract import open_source
    from featx.extract.cache._planning import prepare_cache

    cache = str(tmp_path / "c.h5")  # a real cache file, created as extract() does before computing
    spec = {"model": "efficientnet_lite0", "layers": ["blocks.1"], "pooling": "avg", "dtype": "float16"}
    prepare_cache(cache, open_source(colour_dataset), spec, {"blocks.1": 24}, "float16", overwrite=False)
    code, heavy, stdout = run_cli("info", cache)
    assert code == 0 and heavy == []
    assert "18" in stdout and "blocks.1" in stdout


def test_classify_settings_import_without_scikit_learn():
    code = ("import sys, featx.classify as c; c.CV_OPTIONS, c.HEAD_LIST, c.PCA, c.METRIC, c.JOBS, c.DEDUPE;"
            "print(sorted(m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
