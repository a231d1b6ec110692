"""``featx extract -o FOLDER`` is refused in one line before any model is built (it used to build
the backbone first, then say the same thing)."""

from __future__ import annotations

import subprocess
import sys

from helpers.testdata import write_colour_dataset

PROBE = """
import sys
from featx.pipelines.cli import main
code = main(sys.argv[1:])
print("BUILT" if "featx.extract.models._backbones" in sys.modules else "NOT BUILT", code)
"""


def test_extract_into_a_folder_is_refused_before_the_model_is_built(tmp_path):
    src = write_colour_dataset(tmp_path / "imgs", per_class=1)
    folder = tmp_path / "out"
    folder.mkdir()
    res = subprocess.run([sys.executable, "-c", PROBE, "extract", src, "-o", str(folder), "--model", "resnet50",
                          "--weights", "none"], capture_output=True, text=True, timeout=300)
    assert res.stdout.split() == ["NOT", "BUILT", "2"], (res.stdout, res.stderr)
    assert res.stderr.strip().splitlines() == [
        f"error: {str(folder)!r} is a folder, not a cache file; name the cache file (e.g. "
        f"{str(folder / 'features.h5')!r})"]
