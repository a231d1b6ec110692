"""The cluster flags come from one function (same flags, same help, on every command that takes
--cluster), and every command writing a file refuses a missing folder before any work (issue 21)."""

from __future__ import annotations

import re

import pytest

from featx.pipelines.cli import build_parser, main
from featx.pipelines._errors import SpecError
from featx.pipelines._spec import load_spec

CLUSTER_COMMANDS = ["extract", "cv", "predict", "run"]
FLAGS = ["--cluster", "--scheduler-file", "--tls-ca-file", "--tls-cert", "--tls-key"]


def _helps(command: str) -> dict:
    sub = next(a for a in build_parser()._actions if a.dest == "command" or hasattr(a, "choices") and isinstance(a.choices, dict))
    parser = sub.choices[command]
    return {s: re.sub(r"\s+", " ", a.help) for a in parser._actions for s in a.option_strings if s in FLAGS}


def test_every_cluster_command_has_the_same_cluster_and_tls_flags():
    helps = {c: _helps(c) for c in CLUSTER_COMMANDS}
    assert all(sorted(h) == sorted(FLAGS) for h in helps.values()), helps
    assert all(h == helps["extract"] for h in helps.values()), helps
    assert "tls://" in helps["extract"]["--cluster"]


MISSING = "/nonexistent-featx-dir/sub"
COMMANDS = {
    "extract": ["extract", "imgs", "-o", f"{MISSING}/x.h5"],
    "consolidate": ["consolidate", "c.h5", "-o", f"{MISSING}/x.h5"],
    "cv --json": ["cv", "c.h5", "--json", f"{MISSING}/x.json"],
    "audit --json": ["audit", "c.h5", "--json", f"{MISSING}/x.json"],
    "audit --write-manifest": ["audit", "c.h5", "--write-manifest", f"{MISSING}/m.csv"],
    "fit -o": ["fit", "c.h5", "-o", f"{MISSING}/m.skops"],
    "predict -o": ["predict", "m.skops", "imgs", "-o", f"{MISSING}/p.csv"],
    "explore -o": ["explore", "c.h5", "-o", f"{MISSING}/e.html"],
}


@pytest.mark.parametrize("what", list(COMMANDS))
def test_a_missing_output_folder_is_one_line_before_any_work(what, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the inputs are empty files or absent: the destination is checked before reading them
    (tmp_path / "c.h5").write_bytes(b"")
    assert main(COMMANDS[what]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert f"folder {MISSING!r} does not exist; create it or choose another path" in lines[0], lines
    assert out.out == ""
    assert not (tmp_path / "nonexistent-featx-dir").exists()


def test_all_destination_problems_are_reported_together(tmp_path, capsys):
    assert main(["audit", "c.h5", "--json", f"{MISSING}/x.json", "--write-manifest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "--json" in err and "--write-manifest" in err and "is a folder" in err


def test_spec_tls_keys_are_relative_to_the_spec_and_checked(tmp_path):
    imgs = tmp_path / "imgs" / "a"
    imgs.mkdir(parents=True)
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "me.pem").write_text("x")
    spec = tmp_path / "s.toml"
    spec.write_text('cluster = "tls://127.0.0.1:1"\ntls_ca_file = "ca.pem"\ntls_cert = "me.pem"\n'
                    '[[sources]]\npath = "imgs"\n')
    loaded = load_spec(str(spec), check_sources=False)
    assert (loaded.tls_ca_file, loaded.tls_cert, loaded.tls_key) == (str(tmp_path / "ca.pem"), str(tmp_path / "me.pem"), None)
    spec.write_text('tls_ca_file = "ca.pem"\ntls_key = "gone.key"\n[[sources]]\npath = "imgs"\n')
    with pytest.raises(SpecError) as info:
        load_spec(str(spec), check_sources=False)
    problems = info.value.problems
    assert any(p.startswith("tls_key:") and "gone.key" in p for p in problems), problems
    assert any(p.startswith("tls_cert:") and "needs both" in p for p in problems), problems
