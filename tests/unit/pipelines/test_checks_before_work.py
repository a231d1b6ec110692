"""Everything knowable is checked before any work (issue 21, Build 2): the transfer study's
strategies against its backbone's block groups (read from the bare architecture, no weights)
and the early-stopping split per class, reported together by ``featx run --check``, one line
each, naming the spec keys."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from featx.extract.finetune import split_problem, strategy_problems
from featx.pipelines._spec import to_toml
from helpers.pipeline import tiny_spec


def _check(spec: dict, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "spec.toml"
    path.write_text(to_toml(spec), encoding="utf-8")
    env = dict(os.environ)
    env.pop("FEATX_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "featx.pipelines.cli", "run", str(path), "--check"],
                          capture_output=True, text=True, env=env, timeout=300)


def test_run_check_finds_impossible_strategies_and_split_together(colour_dataset, tmp_path):
    spec = tiny_spec(colour_dataset, str(tmp_path / "o"),
                     finetune={"strategies": ["head", "partial:99", "gradual:99"], "val_fraction": 0.05,
                               "layer": "penultimate"})
    done = _check(spec, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "spec OK" not in done.stdout
    lines = done.stderr.strip().splitlines()
    strategies = [ln for ln in lines if "finetune.strategies" in ln]
    assert len(strategies) == 2 and "partial:99" in strategies[0] and "gradual:99" in strategies[1]
    assert all("block groups" in ln and "--strategy" not in ln for ln in strategies)
    split = [ln for ln in lines if "finetune.val_fraction" in ln]
    assert len(split) == 1 and "--val-fraction" not in split[0] and "set finetune.val_fraction = 0" in split[0]
    assert not os.path.exists(tmp_path / "o")  # nothing was made


def test_a_feasible_study_passes_the_check(colour_dataset, tmp_path):
    spec = tiny_spec(colour_dataset, str(tmp_path / "o"),
                     finetune={"strategies": ["head", "partial:2", "gradual"], "layer": "penultimate"})
    done = _check(spec, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "spec OK" in done.stdout


@pytest.mark.parametrize("source, arch", [("timm", "resnet18"), ("torchvision", "resnet18"), ("timm", "vit_tiny_patch16_224")])
def test_strategies_are_resolved_from_the_architecture(source, arch):
    assert strategy_problems(source, arch, ["head", "full", "partial:1", "gradual:1"]) == []
    found = strategy_problems(source, arch, ["partial:99", "gradual:99"])
    assert len(found) == 2 and all(f.startswith("strategy ") and "--strategy full" in f for f in found)


def test_split_problem_names_where_the_fraction_was_given():
    assert split_problem({"a": 10, "b": 10}, 0.2) is None
    assert split_problem({"a": 10, "b": 1}, 0.0) is None
    cli = split_problem({"a": 10, "b": 1}, 0.2)
    assert "'b'" in cli and "--val-fraction 0" in cli
    assert "finetune.val_fraction = 0" in split_problem({"a": 10, "b": 1}, 0.2, "finetune.val_fraction")


def test_featx_finetune_refuses_an_impossible_strategy_before_any_weights(colour_dataset, tmp_path):
    env = dict(os.environ)
    env.pop("FEATX_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "featx.pipelines.cli", "finetune", colour_dataset, "-o",
                           str(tmp_path / "nofolder" / "m.pt"), "--model", "resnet18", "--weights", "none",
                           "--strategy", "partial:99"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "partial:99" in done.stderr and "block groups" in done.stderr and "nofolder" in done.stderr
    assert not os.path.exists(tmp_path / "nofolder")
