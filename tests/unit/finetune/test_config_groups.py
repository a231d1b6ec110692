"""Strategies, settings (Options, config checks, CLI flags), block groups and the freezer (no training)."""

import re

import numpy as np
import pytest
import torch
from torch import nn

from featx.extract import SourceTable, build_architecture
from featx.extract.finetune import (
    BN_MODES,
    FINETUNE_OPTIONS,
    OPTIMIZERS,
    FinetuneConfig,
    FinetuneConfigError,
    FinetuneDataError,
    Freezer,
    Strategy,
    block_groups,
    replace_head,
)
from featx.extract.finetune._data import epoch_batches, split_rows
from featx.extract.finetune._optim import lr_factor, param_groups
from helpers.ft_support import one_thread  # noqa: F401  (autouse fixture)


@pytest.mark.parametrize("text,kind,k", [("head", "head", None), ("full", "full", None), ("partial:3", "partial", 3),
                                         ("gradual", "gradual", None), ("gradual:2", "gradual", 2), (" Partial:1 ", "partial", 1)])
def test_strategy_parses(text, kind, k):
    s = Strategy.parse(text)
    assert (s.kind, s.k) == (kind, k)


@pytest.mark.parametrize("text,message", [
    ("bogus", r"unknown strategy 'bogus'; use head, partial:K, full"),
    ("heads", r"did you mean 'head'"),
    ("partial", r"needs the number of top blocks"),
    ("partial:0", r"whole number of blocks K >= 1"),
    ("partial:x", r"whole number of blocks K >= 1"),
])
def test_strategy_rejects(text, message):
    with pytest.raises(FinetuneConfigError, match=message):
        Strategy.parse(text)


def test_strategy_unfrozen_schedule():
    assert [Strategy.parse("gradual").unfrozen(e, 4, 1) for e in range(6)] == [0, 1, 2, 3, 4, 4]
    assert [Strategy.parse("gradual:2").unfrozen(e, 4, 2) for e in range(7)] == [0, 0, 1, 1, 2, 2, 2]
    assert Strategy.parse("partial:2").unfrozen(0, 8) == 2
    assert Strategy.parse("head").unfrozen(5, 8) == 0
    assert Strategy.parse("full").unfrozen(0, 8) == 8


def test_config_collects_every_problem():
    cfg = FinetuneConfig(epochs=0, lr=-1.0, optimizer="adam", val_fraction=1.5, strategy="nope")
    problems = cfg.problems()
    assert len(problems) == 5
    with pytest.raises(FinetuneConfigError, match=r"epochs must be a whole number >= 1; got 0.*lr must be > 0"):
        cfg.check()
    assert any("did you mean 'adamw'" in p for p in problems)


def test_every_setting_is_defined_once_as_an_option():
    import dataclasses

    from featx.extract import DEVICE, PRECISION, WORKERS

    fields = {f.name: f.default for f in dataclasses.fields(FinetuneConfig)}
    assert [o.name for o in FINETUNE_OPTIONS] == [n for n in fields if n not in ("model", "weights")]
    assert all(fields[o.name] == o.default for o in FINETUNE_OPTIONS)
    by_name = {o.name: o for o in FINETUNE_OPTIONS}
    assert by_name["precision"] is PRECISION and by_name["device"] is DEVICE and by_name["workers"] is WORKERS
    assert OPTIMIZERS == by_name["optimizer"].choices == ("adamw", "sgd")
    assert BN_MODES == by_name["bn"].choices


@pytest.mark.parametrize("field,value,message", [
    ("lr", 0.0, r"^lr must be > 0; got 0.0$"),
    ("layer_decay", 0.0, r"^layer_decay must be in \(0, 1\] \(1 = off\); got 0.0$"),
    ("label_smoothing", 1.0, r"^label_smoothing must be in \[0, 1\); got 1.0$"),
    ("warmup", -1.0, r"^warmup \(epochs\) must be >= 0; got -1.0$"),
    ("batch_size", 1, r"^batch_size must be a whole number >= 2 \(BatchNorm needs 2 images\); got 1$"),
    ("input_size", 5000, r"^input_size must be a whole number between 8 and 4096; got 5000$"),
    ("epochs", 2.5, r"^epochs must be a whole number >= 1; got 2.5$"),
    ("seed", True, r"^seed must be a whole number >= 0; got True$"),
    ("mixup", float("nan"), r"^mixup \(Beta alpha, 0 = off\) must be >= 0; got nan$"),
    ("augment", "yes", r"^augment must be true or false; got 'yes'$"),
    ("precision", "bf61", r"^precision must be one of auto, fp32, bf16, fp16; got 'bf61'; did you mean 'bf16'\?$"),
    ("workers", -1, r"^workers must be a whole number >= 0; got -1$"),
    ("bn", "freeze", r"^bn must be one of auto, frozen, train; got 'freeze'; did you mean 'frozen'\?$"),
])
def test_config_messages_come_from_the_option(field, value, message):
    problems = FinetuneConfig(**{field: value}).problems()
    assert len(problems) == 1 and re.match(message, problems[0]), problems


@pytest.mark.parametrize("field,value", [("layer_decay", 1.0), ("val_fraction", 0.0), ("lr", None), ("workers", 0),
                                         ("input_size", 8), ("backbone_lr_mult", 10), ("label_smoothing", 0)])
def test_config_accepts_the_bounds(field, value):
    assert FinetuneConfig(**{field: value}).problems() == []


def test_cli_flags_are_built_from_the_options(tmp_path, capsys):
    from featx.pipelines.commands._finetune import config_from_args
    from featx.pipelines.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["finetune", "src", "-o", "m.pt"])
    assert config_from_args(args) == FinetuneConfig()
    args = parser.parse_args(["finetune", "src", "-o", "m.pt", "--no-augment", "--workers", "auto", "--lr", "0.5",
                              "--bn", "train", "--precision", "bf16", "--val-fraction", "0", "--strategy", "gradual:2"])
    assert config_from_args(args) == FinetuneConfig(augment=False, workers=None, lr=0.5, bn="train", precision="bf16",
                                                    val_fraction=0.0, strategy="gradual:2")
    with pytest.raises(SystemExit):
        parser.parse_args(["finetune", "src", "-o", "m.pt", "--optimizer", "adam"])
    assert "invalid choice: 'adam'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["finetune", "src", "-o", "m.pt", "--epochs", "ten"])
    assert "argument --epochs: expected a whole number, got 'ten'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["finetune", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for shown in ("maximum number of epochs (default 10)", "(default partial:2)", "--optimizer {adamw,sgd}",
                  "(default adamw)", "images per training step (default 32)", "(default 0.2)", "--no-augment",
                  "--precision {auto,fp32,bf16,fp16}", "head learning rate (default 0.001 for adamw, 0.01 for sgd)"):
        assert shown in help_text, shown


def test_config_unknown_parameter_suggests():
    with pytest.raises(FinetuneConfigError, match=r"unknown fine-tuning parameter 'epoch'; did you mean 'epochs'"):
        FinetuneConfig.from_params(epoch=3)


def test_config_defaults_follow_optimizer():
    assert FinetuneConfig().resolved_lr == 1e-3
    assert FinetuneConfig(optimizer="sgd").resolved_lr == 1e-2
    assert FinetuneConfig(optimizer="sgd").resolved_weight_decay == 1e-4
    fp = FinetuneConfig().fingerprint()
    assert "device" not in fp and "workers" not in fp and fp["lr"] == 1e-3


def _module(source, arch, classes=3):
    m = build_architecture(source, arch)
    head = replace_head(m, classes)
    return m, head


def test_efficientnet_lite0_groups():
    m, head = _module("timm", "tf_efficientnet_lite0")
    groups = block_groups(m, head)
    assert head == "classifier" and m.classifier.out_features == 3
    assert [g.name for g in groups] == ["conv_stem+bn1"] + [f"blocks.{i}" for i in range(6)] + ["blocks.6+conv_head+bn2"]
    owned = [k for g in groups for k in g.keys]
    assert sorted(owned) == sorted(k for k in m.state_dict() if not k.startswith("classifier."))
    assert "bn2.running_mean" in groups[-1].keys and "blocks.5.0.bn1.running_var" in groups[-2].keys


def test_resnet_and_generic_groups():
    m, head = _module("torchvision", "resnet18")
    assert head == "fc" and [g.name for g in block_groups(m, head)] == ["conv1+bn1", "layer1", "layer2", "layer3", "layer4"]
    m, head = _module("torchvision", "mobilenet_v3_small", 2)
    names = [g.name for g in block_groups(m, head)]
    assert head == "classifier.3" and names[0] == "features.0" and names[-1] == "classifier"
    assert m.classifier[3].out_features == 2


def test_replaced_head_matches_build_architecture():
    """The checkpoint stores arch + num_classes; the rebuilt module must take the state_dict."""
    for source, arch in (("timm", "tf_efficientnet_lite0"), ("torchvision", "mobilenet_v3_small")):
        m, _ = _module(source, arch, 5)
        rebuilt = build_architecture(source, arch, num_classes=5)
        rebuilt.load_state_dict(m.state_dict(), strict=True)


def test_freezer_modes_and_grads():
    m, head = _module("timm", "tf_efficientnet_lite0")
    groups = block_groups(m, head)
    fr = Freezer(m, groups, head)
    fr.set_trainable(2)
    fr.train()
    assert m.classifier.training and m.classifier.weight.requires_grad
    assert m.bn2.training and m.blocks[5][0].bn1.training and m.blocks[5][0].bn1.weight.requires_grad
    assert not m.blocks[4][0].bn1.training and not m.blocks[4][0].bn1.weight.requires_grad
    assert not m.bn1.training and not m.conv_stem.weight.requires_grad
    assert fr.trainable_names() == ["blocks.5", "blocks.6+conv_head+bn2"]
    fr.set_trainable(0)
    fr.train()
    assert m.classifier.training and not m.bn2.training and not m.blocks.training


def test_param_groups_discriminative_lr():
    m, head = _module("timm", "tf_efficientnet_lite0")
    groups = block_groups(m, head)
    cfg = FinetuneConfig(lr=1e-2, backbone_lr_mult=0.1, layer_decay=0.5, weight_decay=0.05)
    pg = {g["name"]: g for g in param_groups(m, groups, head, cfg)}
    assert pg["head"]["lr"] == pytest.approx(1e-2)
    assert pg["blocks.6+conv_head+bn2"]["lr"] == pytest.approx(1e-3)
    assert pg["blocks.5"]["lr"] == pytest.approx(5e-4)
    assert pg["conv_stem+bn1"]["lr"] == pytest.approx(1e-3 * 0.5 ** 7)
    assert pg["head"]["weight_decay"] == 0.05 and pg["head:no_decay"]["weight_decay"] == 0.0
    n_params = sum(len(g["params"]) for g in pg.values())
    assert n_params == len(list(m.parameters()))


def test_schedule_warmup_then_cosine():
    f = [lr_factor(s, 10, 2) for s in range(10)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(1.0) and f[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[2:], f[3:])) and f[-1] < 0.05


def test_batches_are_seeded_and_never_single():
    a = epoch_batches(17, 8, seed=3, epoch=1)
    assert a == epoch_batches(17, 8, seed=3, epoch=1)
    assert a != epoch_batches(17, 8, seed=3, epoch=2)
    assert [len(b) for b in a] == [8, 9]
    assert sorted(i for b in a for i in b) == list(range(17))


def _table(labels, groups=None):
    labels = np.asarray(labels)
    n = len(labels)
    return SourceTable("/nowhere", "manifest", [f"{i}.png" for i in range(n)], labels, ["a", "b", "c"][: labels.max() + 1],
                       groups=groups or [""] * n, splits=[""] * n)


def test_split_is_stratified_seeded_and_disjoint():
    t = _table([0] * 10 + [1] * 5)
    rows = np.arange(15)
    tr, va = split_rows(t, rows, 0.2, seed=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(15))
    assert (t.labels[va] == 0).sum() == 2 and (t.labels[va] == 1).sum() == 1
    assert np.array_equal(va, split_rows(t, rows, 0.2, seed=0)[1])
    assert not np.array_equal(va, split_rows(t, rows, 0.2, seed=1)[1])


def test_split_keeps_groups_together():
    labels = [0] * 12 + [1] * 12
    groups = [f"g{i // 2}" for i in range(24)]
    t = _table(labels, groups)
    tr, va = split_rows(t, np.arange(24), 0.25, seed=0)
    assert not {groups[i] for i in tr} & {groups[i] for i in va}
    assert set(t.labels[va]) == {0, 1}


def test_split_refuses_small_class_and_single_class():
    with pytest.raises(FinetuneDataError, match=r"class 'b' has 2 image\(s\): too few for a 0.2 validation split"):
        split_rows(_table([0] * 10 + [1] * 2), np.arange(12), 0.2, seed=0)
    with pytest.raises(FinetuneDataError, match=r"at least 2 classes; the training images have 1 \(only 'a'\)"):
        split_rows(_table([0] * 5 + [1] * 5), np.arange(5), 0.2, seed=0)
    tr, va = split_rows(_table([0] * 10 + [1] * 2), np.arange(12), 0.0, seed=0)
    assert len(va) == 0 and len(tr) == 12


def test_tensor_grad_flags_only_touch_parameters():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    m(torch.zeros(2, 3, 8, 8))
    groups = block_groups(m, "3")
    assert [g.name for g in groups] == ["0", "1"]
