import json
import os
import subprocess
import sys

import pytest

from featx.pipelines.cli import main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "featx.pipelines", *args], capture_output=True, text=True, timeout=300)


def test_extract_info_end_to_end(colour_dataset, tmp_path):
    out = str(tmp_path / "c.h5")
    r = _run("extract", colour_dataset, "-o", out, "--weights", "none", "--workers", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("extracted 18 image(s)")
    r = _run("info", out, "--json")
    info = json.loads(r.stdout)
    assert info["counts"]["rows"] == 18 and info["complete"] is True
    assert info["layers"] == {"global_pool": {"dim": 1280, "dtype": "float16"}}
    r = _run("info", out)
    assert "3: blue (6), green (6), red (6)" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["extract", "/no/such/folder", "-o", "x.h5"], "does not exist"),
        (["extract", "{src}", "-o", "{out}", "--model", "resnt18"], "did you mean 'resnet18'"),
        (["extract", "{src}", "-o", "{out}", "--weights", "none", "--layers", "blocks.99"], "featx layers MODEL"),
        (["extract", "{src}", "-o", "{out}", "--weights", "/no/w.pth"], "does not exist"),
        (["info", "{tmp}/none.h5"], "does not exist"),
        (["layers", "nope_model"], "unknown model"),
    ],
)
def test_bad_arguments_one_line_exit_2(colour_dataset, tmp_path, capsys, args, message):
    fill = {"src": colour_dataset, "out": str(tmp_path / "o.h5"), "tmp": str(tmp_path)}
    code = main([a.format(**fill) for a in args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_manifest_without_path_column_and_damaged_cache(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("file,label\na.png,x\n")
    assert main(["extract", str(tmp_path / "m.csv"), "-o", str(tmp_path / "o.h5")]) == 2
    assert "no 'path' column" in capsys.readouterr().err
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(200))
    assert main(["info", str(tmp_path / "bad.h5")]) == 2
    assert "damaged" in capsys.readouterr().err


def test_models_and_layers(capsys):
    assert main(["models"]) == 0
    assert "efficientnet_lite0" in capsys.readouterr().out
    assert main(["layers", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "blocks.3" in out and "80x14x14" in out and "global_pool" in out and "penultimate" in out


def _subparser(parser, name):
    import argparse

    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


def test_extract_flags_come_from_the_extraction_options():
    from featx.extract import EXTRACTION_OPTIONS, POOL
    from featx.pipelines.cli import build_parser

    actions = {a.dest: a for a in _subparser(build_parser(), "extract")._actions}
    for option in (POOL, *EXTRACTION_OPTIONS):
        action = actions[option.name]
        assert action.option_strings == [option.cli_flag] and action.default == option.default
        assert action.choices == (list(option.choices) if option.choices else None)
    assert actions["jpeg_draft"].option_strings == ["--no-jpeg-draft"] and actions["workers"].default is None


def test_a_new_extraction_setting_reaches_extract_without_cli_edits(monkeypatch, tmp_path):
    import featx.extract
    from featx.common import Option
    from featx.pipelines.commands import _extract as _cmd_extract
    from featx.pipelines.cli import build_parser

    streams = Option("streams", "one", "a setting extract() does not have", choices=("one", "two"))
    monkeypatch.setattr(featx.extract, "EXTRACTION_OPTIONS", (*featx.extract.EXTRACTION_OPTIONS, streams))
    seen = {}  # the real extract() has no such setting: record what the CLI hands it
    monkeypatch.setattr(featx.extract, "extract", lambda source, output, **kw: seen.update(kw) or _Summary())
    args = build_parser().parse_args(["extract", "src", "-o", "o.h5", "--streams", "two", "--workers", "auto"])
    assert _cmd_extract.run_extract(args) == 0
    assert seen["streams"] == "two" and seen["runtime"] == "auto"
    assert seen["batch_size"] == 64 and seen["jpeg_draft"] is True
    assert "workers" not in seen and "max_pixels" not in seen  # not given: extract's own defaults


class _Summary:
    def line(self):
        return "extracted"


def test_extraction_flags_take_effect(colour_dataset, tmp_path, capsys):
    from featx.extract import cache_info

    out = str(tmp_path / "c.h5")
    base = ["extract", colour_dataset, "--weights", "none", "--workers", "0"]
    assert main([*base, "-o", out, "--pool", "max", "--dtype", "float32", "--no-jpeg-draft"]) == 0
    spec = cache_info(out)["spec"]
    assert spec["pooling"] == "max" and spec["dtype"] == "float32" and spec["decoding"]["jpeg_draft"] is False
    capsys.readouterr()
    small = str(tmp_path / "small.h5")
    assert main([*base, "-o", small, "--max-pixels", "1000"]) == 2  # the images have 40x32 = 1280 pixels
    assert "none of the 18 images could be decoded" in capsys.readouterr().err
    assert "over the limit of 1000" in cache_info(small)["counts"]["failures"][0][1]
