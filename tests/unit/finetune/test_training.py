"""Fine-tuning on tiny colour images: learning, freezing, checkpoints, resume, predictions."""

import csv
import os

import numpy as np
import pytest
import torch

from featx.extract import FileLock, LayerTap, extract, open_source, read_cache, read_checkpoint
from featx.extract import CacheLockedError, Preprocessing, decode_rgb
from featx.extract.finetune import (
    ArchitectureMismatchError,
    ResumeMismatchError,
    build_model,
    finetune,
    predict_with_checkpoint,
    resume_path,
    write_predictions_csv,
)
from helpers.ft_support import TINY, Interrupt, backbone_keys, colours8, one_thread, stop_after  # noqa: F401  (fixtures)


def _initial_state(**kw):
    fm = build_model(kw.get("model", "efficientnet_lite0"), "none", 3, seed=kw.get("seed", 0), input_size=32)
    return fm, {k: v.clone() for k, v in fm.module.state_dict().items()}


def _changed(before, after, keys):
    return [k for k in keys if not torch.equal(before[k], after[k])]


def test_training_loss_decreases_and_head_learns(colours8, tmp_path):
    res = finetune(colours8, tmp_path / "m.pt", strategy="head", epochs=6, lr=0.05, patience=0, **TINY)
    losses = [h["train_loss"] for h in res.history]
    assert len(losses) == 6 and res.epochs_run == 6
    assert losses[-1] < losses[0] - 0.3, losses
    assert res.history[-1]["val_acc"] == 1.0
    assert res.best_epoch == min(res.history, key=lambda h: h["val_loss"])["epoch"]
    assert res.classes == ["blue", "green", "red"]
    assert len(res.train_rows) == 18 and len(res.val_rows) == 6


def test_head_strategy_leaves_backbone_bitwise_unchanged(colours8, tmp_path):
    fm, before = _initial_state()
    res = finetune(colours8, tmp_path / "m.pt", strategy="head", epochs=2, lr=0.05, val_fraction=0, **TINY)
    after = res.module.state_dict()
    keys = backbone_keys(before, fm.head)
    assert any("running_mean" in k for k in keys)  # BatchNorm statistics are among the checked tensors
    assert _changed(before, after, keys) == []
    assert _changed(before, after, ["classifier.weight", "classifier.bias"]) == ["classifier.weight", "classifier.bias"]


def test_partial_freezes_lower_groups_only(colours8, tmp_path):
    fm, before = _initial_state()
    res = finetune(colours8, tmp_path / "m.pt", strategy="partial:2", epochs=2, val_fraction=0, **TINY)
    after = res.module.state_dict()
    frozen = [k for g in fm.groups[:-2] for k in g.keys]
    trained = [k for g in fm.groups[-2:] for k in g.keys]
    assert _changed(before, after, frozen) == []
    changed = set(_changed(before, after, trained))
    assert "blocks.5.0.conv_pw.weight" in changed and "conv_head.weight" in changed
    assert "bn2.running_mean" in changed and "blocks.5.0.bn1.running_var" in changed  # trainable BN adapts
    assert "blocks.4.0.bn1.running_mean" not in changed


def test_bn_frozen_keeps_statistics_of_trainable_groups(colours8, tmp_path):
    fm, before = _initial_state()
    res = finetune(colours8, tmp_path / "m.pt", strategy="partial:2", epochs=1, val_fraction=0, bn="frozen", **TINY)
    after = res.module.state_dict()
    trained = [k for g in fm.groups[-2:] for k in g.keys]
    stats = [k for k in trained if "running_" in k or "num_batches_tracked" in k]
    assert stats and _changed(before, after, stats) == []
    assert {"conv_head.weight", "bn2.weight"} <= set(_changed(before, after, trained))


def test_gradual_unfreezes_one_group_per_stage(colours8, tmp_path):
    fm, before = _initial_state()
    res = finetune(colours8, tmp_path / "m.pt", strategy="gradual", epochs=3, val_fraction=0, **TINY)
    assert [h["unfrozen"] for h in res.history] == [0, 1, 2]
    after = res.module.state_dict()
    assert _changed(before, after, [k for g in fm.groups[:-2] for k in g.keys]) == []
    assert "blocks.5.0.conv_pw.weight" in _changed(before, after, list(fm.groups[-2].keys))


def test_checkpoint_round_trip_into_extractor_and_predict(colours8, tmp_path):
    ckpt = tmp_path / "m.pt"
    res = finetune(colours8, ckpt, strategy="partial:1", epochs=2, lr=0.02, **TINY)
    saved = read_checkpoint(str(ckpt))
    assert saved["arch"] == {"source": "timm", "arch": "tf_efficientnet_lite0", "num_classes": 3}
    assert saved["classes"] == ["blue", "green", "red"] and len(saved["history"]) == 2
    assert saved["preprocessing"]["crop_size"] == 32
    assert not os.path.exists(resume_path(str(ckpt)))

    cache = tmp_path / "ft.h5"
    extract(colours8, cache, model=str(ckpt), layers="penultimate,blocks.3", dtype="float32", workers=0,
            jpeg_draft=False, progress=False)
    data = read_cache(cache)
    assert data.meta["layers"] == ["global_pool", "blocks.3"]

    table = open_source(colours8)
    pre = Preprocessing.from_dict(saved["preprocessing"])
    tf = pre.pil_transform()
    batch = torch.stack([tf(decode_rgb(open(table.absolute(i), "rb").read())) for i in range(len(table))])
    x = pre.normalize(batch)
    tap = LayerTap(res.module, ["global_pool", "blocks.3"], "avg")
    with torch.inference_mode():
        feats = tap(x)
        tap.close()
        logits = res.module(x)
    order = [data.paths.index(p) for p in table.paths]
    for layer in ("global_pool", "blocks.3"):
        np.testing.assert_allclose(data.features[layer][order], feats[layer].numpy(), rtol=1e-4, atol=1e-5)

    preds = predict_with_checkpoint(str(ckpt), colours8, workers=0)
    assert preds.paths == table.paths and preds.true_labels == [table.class_names[i] for i in table.labels]
    np.testing.assert_allclose(preds.probs, torch.softmax(logits, 1).numpy(), rtol=1e-4, atol=1e-5)
    rows = list(preds)
    assert rows[0].path == table.paths[0] and rows[0].label in preds.class_names and rows[0].probs.shape == (3,)
    out = write_predictions_csv(preds, tmp_path / "preds.csv")
    with open(out, newline="") as fh:
        table_rows = list(csv.reader(fh))
    assert table_rows[0] == ["path", "label", "true_label", "prob_blue", "prob_green", "prob_red"]
    assert len(table_rows) == 1 + len(table)
    assert preds.accuracy() == np.mean([r[1] == r[2] for r in table_rows[1:]])

    # 'featx predict CHECKPOINT SOURCE' (the same subcommand that takes bundles)
    from featx.pipelines.cli import main

    assert main(["predict", str(ckpt), colours8, "-o", str(tmp_path / "cli.csv"), "--workers", "0"]) == 0
    with open(tmp_path / "cli.csv", newline="") as fh:
        assert list(csv.reader(fh)) == table_rows


def test_interrupted_run_resumes_to_the_same_model(colours8, tmp_path):
    params = dict(strategy="full", epochs=4, patience=0, mixup=0.2, **TINY)
    clean = finetune(colours8, tmp_path / "clean.pt", **params)

    out = tmp_path / "resumed.pt"
    with pytest.raises(Interrupt):
        finetune(colours8, out, log=stop_after(2), **params)
    assert os.path.exists(resume_path(str(out))) and not os.path.exists(out)
    lines = []
    resumed = finetune(colours8, out, log=lines.append, **params)
    assert resumed.resumed_from == 2
    assert any(line.startswith("resuming ") for line in lines)
    assert [line.split("/")[0] for line in lines if line.startswith("epoch")] == ["epoch 3", "epoch 4"]
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(clean.history, resumed.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5, abs=1e-6)
    sa, sb = clean.module.state_dict(), resumed.module.state_dict()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-5, atol=1e-6)


def test_finished_output_is_reused_and_changed_settings_refused(colours8, tmp_path):
    out = tmp_path / "m.pt"
    params = dict(strategy="head", epochs=2, **TINY)
    first = finetune(colours8, out, **params)
    mtime = os.stat(out).st_mtime_ns
    again = finetune(colours8, out, **params)
    assert again.reused and os.stat(out).st_mtime_ns == mtime
    assert again.history == first.history and "already fine-tuned" in again.line()
    with pytest.raises(ResumeMismatchError, match=r"made with other settings \(epochs: 2 -> 3\).*--overwrite"):
        finetune(colours8, out, **{**params, "epochs": 3})
    third = finetune(colours8, out, overwrite=True, **{**params, "epochs": 3})
    assert third.epochs_run == 3 and not third.reused


def test_resume_state_of_another_architecture_is_refused(colours8, tmp_path):
    out = tmp_path / "m.pt"
    with pytest.raises(Interrupt):
        finetune(colours8, out, strategy="head", epochs=3, log=stop_after(1), **TINY)
    with pytest.raises(ArchitectureMismatchError,
                       match=r"m.pt.resume is a resume state of timm:tf_efficientnet_lite0 with 3 classes, not "
                             r"torchvision:resnet18 with 3 classes; rerun with the original --model"):
        finetune(colours8, out, model="resnet18", strategy="head", epochs=3, **TINY)


def test_output_is_locked(colours8, tmp_path):
    out = tmp_path / "m.pt"
    with FileLock(str(out)):
        with pytest.raises(CacheLockedError, match="being written by another featx process"):
            finetune(colours8, out, strategy="head", epochs=1, **TINY)


def test_rows_restrict_training_to_a_subset(colours8, tmp_path):
    table = open_source(colours8)
    rows = np.flatnonzero(np.arange(len(table)) % 2 == 0)  # 4 images per class
    res = finetune(table, tmp_path / "m.pt", rows=rows, strategy="head", epochs=1, val_fraction=0.25, **TINY)
    assert sorted(np.concatenate([res.train_rows, res.val_rows]).tolist()) == rows.tolist()
    assert len(res.val_rows) == 3
    extra = read_checkpoint(str(tmp_path / "m.pt"))["extra"]["finetune"]
    assert sorted(extra["train_rows"] + extra["val_rows"]) == rows.tolist()


def test_starting_from_a_featx_checkpoint(colours8, tmp_path):
    first = tmp_path / "first.pt"
    finetune(colours8, first, strategy="head", epochs=1, **TINY)
    second = finetune(colours8, tmp_path / "second.pt", model=str(first), strategy="partial:1", epochs=1,
                      **{**TINY, "weights": "default"})
    assert second.arch == {"source": "timm", "arch": "tf_efficientnet_lite0", "num_classes": 3}
