"""Specs, manifests and grid options are data: code written into any of them is a string that
fails validation (or names a missing file), never something that runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from featx.pipelines._errors import SpecError
from featx.pipelines._spec import load_spec, to_toml
from helpers.testdata import write_colour_dataset


def _payload(marker) -> str:
    return f"__import__('os').system('touch {marker}')"


def test_code_in_every_string_of_a_spec_is_only_a_string(tmp_path):
    marker = tmp_path / "pwned"
    code = _payload(marker)
    src = write_colour_dataset(tmp_path / "colours", per_class=3)
    spec = {
        "title": code,
        "output": str(tmp_path / "out"),
        "sources": [{"name": "c", "path": src}],
        "backbones": [{"name": "b", "model": code, "weights": code, "layers": [code]}],
        "classify": {"heads": [code], "grids": {"logreg": {"clf__C": [code]}}},
    }
    path = tmp_path / "evil.toml"
    path.write_text(to_toml(spec))
    with pytest.raises(SpecError) as err:
        load_spec(str(path))
    text = str(err.value)
    assert "backbones" in text and "classify.heads" in text
    proc = subprocess.run([sys.executable, "-m", "featx.pipelines", "run", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_code_in_a_manifest_and_in_grid_options_is_only_a_string(tmp_path):
    marker = tmp_path / "pwned"
    code = _payload(marker)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f'path,label\n"{code}",x\n"{code}.png","{code}"\n')
    out = tmp_path / "c.h5"
    proc = subprocess.run([sys.executable, "-m", "featx.pipelines", "extract", str(manifest), "-o", str(out), "--weights", "none"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "none of the 2 images could be decoded" in proc.stderr, proc.stderr
    from featx.pipelines.commands._classify import parse_grids

    assert parse_grids([f"logreg:clf__C={code}"]) == {"logreg": {"clf__C": [code]}}
    assert not marker.exists()
